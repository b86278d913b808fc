// up: the whole system on loopback (Redis, PostgreSQL, the service, the workers, the payment
// simulator), data under one folder, and a demonstration sale.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>

#include "app/cli/commands.hpp"
#include "app/readiness_probe.hpp"
#include "common/random.hpp"
#include "runtime/io_runtime.hpp"
#include "stack/local_servers.hpp"

namespace fs::cli {

void UpCommand::add_to(CLI::App& app) {
  cmd = app.add_subcommand("up", "Start Redis, PostgreSQL and the service; run a demo sale");
  add_service_options(*cmd, cfg);
  cmd->add_option("--data-dir", data_dir, "Folder for all data and logs")->capture_default_str();
  cmd->add_flag("--demo,!--no-demo", demo, "Run a demonstration flash sale once up")
      ->capture_default_str();
  cmd->add_option("--demo-users", demo_users, "Users in the demo crowd")->capture_default_str();
  cmd->add_option("--demo-stock", demo_stock, "Units on sale in the demo")->capture_default_str();
  cmd->add_option("--demo-connections", demo_connections, "Connections of the demo crowd")
      ->capture_default_str();
  cmd->add_flag("--exit-after-demo", exit_after_demo, "Stop everything after the demo sale");
  cmd->add_flag(
      "--sentinel", sentinel,
      "Redis as 1 master + 1 replica + 3 sentinels (quorum 2), followed through Sentinel");
  // Local only: the demo crowd on loopback presents many client IPs through X-Forwarded-For.
  gateway.config.trusted_proxies = {"127.0.0.0/8", "::1"};
  gateway.add_to(*cmd);
  cmd->add_option("--demo-bots", demo_bots, "Bots (headless, hammering) in the demo crowd")
      ->capture_default_str();
  add_event_worker_options(*cmd, event_cfg);
  cmd->add_option("--event-roles", event_roles,
                  "Event roles run in-process (relay,notifier; empty: none, e.g. to benchmark)")
      ->capture_default_str();
  cmd->add_option("--payments-latency-min-ms", pay_latency_min)->capture_default_str();
  cmd->add_option("--payments-latency-max-ms", pay_latency_max)->capture_default_str();
  cmd->add_option("--pg-wal-ready-mb", pg_wal_ready_mb,
                  "WAL segments PostgreSQL has ready before the sale, in MB (created on the first "
                  "start, then recycled; min_wal_size): no commit waits for a new segment in the "
                  "sale's first this-many MB of WAL. 0: PostgreSQL's defaults")
      ->capture_default_str();
}

int UpCommand::run(const sigset_t& signals) {
  namespace stdfs = std::filesystem;
  // `--event-roles ""` runs neither the outbox relay nor the notifier (benchmarks split costs).
  const auto in_process_roles = app::take_event_roles(event_roles);
  if (!event_roles.empty()) {
    spdlog::error("--event-roles: unknown role(s) {}", event_roles);
    return 2;
  }
  const stdfs::path data = stdfs::absolute(data_dir);
  stdfs::create_directories(data / "redis");
  stdfs::create_directories(data / "postgres");
  std::error_code ec;
  stdfs::permissions(data,
                     stdfs::perms::owner_all | stdfs::perms::group_read | stdfs::perms::group_exec |
                         stdfs::perms::others_read | stdfs::perms::others_exec,
                     ec);
  stack::RedisOptions ro;
  ro.dir = data / "redis";
  auto redis = stack::RedisServer::start(ro);
  if (!redis) {
    spdlog::error("redis-server: {}", redis.error().message);
    return 1;
  }
  spdlog::info("redis-server on 127.0.0.1:{} (data in {})", (*redis)->port(), ro.dir.string());
  // --sentinel: a replica and three sentinels (quorum 2) watching the master above.
  std::unique_ptr<stack::RedisServer> replica;
  std::vector<std::unique_ptr<stack::SentinelServer>> sentinels;
  if (sentinel) {
    stack::RedisOptions rr;
    rr.dir = data / "redis-replica";
    rr.replica_of = std::pair<std::string, std::uint16_t>{"127.0.0.1", (*redis)->port()};
    auto started = stack::RedisServer::start(rr);
    if (!started) {
      spdlog::error("redis replica: {}", started.error().message);
      return 1;
    }
    replica = std::move(*started);
    spdlog::info("redis replica on 127.0.0.1:{} (data in {})", replica->port(), rr.dir.string());
    for (int i = 0; i < 3; ++i) {
      stack::SentinelOptions so;
      so.dir = data / ("sentinel-" + std::to_string(i + 1));
      so.master_port = (*redis)->port();
      so.quorum = 2;
      so.down_after = std::chrono::milliseconds{3000};
      so.failover_timeout = std::chrono::milliseconds{10000};
      auto sentinel = stack::SentinelServer::start(so);
      if (!sentinel) {
        spdlog::error("redis-sentinel: {}", sentinel.error().message);
        return 1;
      }
      cfg.redis_sentinel.sentinels.push_back({"127.0.0.1", (*sentinel)->port()});
      sentinels.push_back(std::move(*sentinel));
    }
    std::string list;
    for (const auto& a : cfg.redis_sentinel.sentinels)
      list += (list.empty() ? "" : ",") + a.to_string();
    spdlog::info("redis-sentinel x3 (quorum 2, master name {}) on {}",
                 cfg.redis_sentinel.master_name, list);
  }
  stack::PostgresOptions po;
  po.dir = data / "postgres";
  po.wal_ready_mb = pg_wal_ready_mb;
  auto pg = stack::PostgresServer::start(po);
  if (!pg) {
    spdlog::error("postgres: {}", pg.error().message);
    return 1;
  }
  spdlog::info("postgres on 127.0.0.1:{} (data in {}, {} WAL segments of 16 MB ready)",
               (*pg)->port(), po.dir.string(), (*pg)->wal_segments());

  cfg.gateway = gateway.apply();
  cfg.redis_port = (*redis)->port();
  cfg.pg_conninfo = (*pg)->conninfo();
  cfg.jwt_secret = secret_from_env_or("");
  bool generated_secret = cfg.jwt_secret.empty();
  if (generated_secret) cfg.jwt_secret = SecureRandom::instance().hex(32);
  int rc = 0;
  try {
    // The payment simulator and the workers (saga, sweeper) run in this process.
    IoRuntime sim_runtime(1, "fs-paysim");
    sim_runtime.start();
    payments_sim::PaymentSimulatorOptions up_sim;
    up_sim.latency_min = std::chrono::milliseconds{pay_latency_min};
    up_sim.latency_max = std::chrono::milliseconds{pay_latency_max};
    payments_sim::PaymentSimulator simulator(sim_runtime, up_sim);
    simulator.start();
    spdlog::info("payment simulator on 127.0.0.1:{}", simulator.port());
    app::FlashsaleService service(cfg);
    service.start();
    app::WorkersConfig wc;
    wc.redis_port = cfg.redis_port;
    wc.redis_sentinel = cfg.redis_sentinel;
    wc.pg_conninfo = cfg.pg_conninfo;
    wc.payments_port = simulator.port();
    wc.sweep_interval = std::chrono::seconds{1};
    wc.registry = &service.registry();  // saga and sweeper metrics on the service's /metrics
    // The outbox relay runs in this process too, so the saga takes payment.requested from the
    // event log (group "saga"); the PAYING scan stays as the safety net for stale sagas.
    wc.event_log = app::redis_streams_event_log(wc);
    wc.poll_intake = false;
    app::BackgroundWorkers workers(wc);
    workers.start();
    event_cfg.roles = in_process_roles;  // the outbox relay and notifications, in-process
    event_cfg.redis_port = cfg.redis_port;
    event_cfg.redis_sentinel = cfg.redis_sentinel;
    event_cfg.pg_conninfo = cfg.pg_conninfo;
    app::EventWorkers event_workers(event_cfg, &service.registry());
    event_workers.start();
    if (!app::wait_until_ready(service.port(), "/readyz", std::chrono::seconds{30})) {
      spdlog::error("the service did not become ready");
      return 1;
    }
    std::cout << "\nflashsale is up: http://127.0.0.1:" << service.port() << "\n";
    if (generated_secret) std::cout << "JWT secret (generated): " << cfg.jwt_secret << "\n";
    std::cout << "admin token (24 h): " << mint(cfg.jwt_secret, "admin", true, 86400) << "\n"
              << "metrics: http://127.0.0.1:" << service.port() << "/metrics\n\n"
              << std::flush;
    if (demo) {
      crowd::CrowdOptions c;
      c.port = service.port();
      c.jwt_secret = cfg.jwt_secret;
      c.users = demo_users;
      c.stock = demo_stock;
      c.connections = demo_connections;
      c.reservation_ttl_seconds = 15;  // the shoppers who never pay expire soon
      c.forwarded_ips = true;  // one client IP per user, as the gateway trusts loopback here
      c.bots = demo_bots;
      std::cout << "demo: " << demo_users << " users race for " << demo_stock << " units of '"
                << c.product_id << "'\n"
                << std::flush;
      auto report = crowd::run_crowd(c);
      if (!report) {
        spdlog::error("demo failed: {}", report.error().message);
        rc = 1;
      } else {
        std::cout << crowd::format_report(*report, false) << std::flush;
        if (!report->invariants.ok) rc = 3;
        // Checkout: 3 of 5 winners pay, 1 of 5 is declined, 1 of 5 never pays (expires).
        const auto sent = workers.demo_checkout(c.product_id);
        std::cout << "demo checkout: " << sent << " winners pay (1 in 4 declined), the rest "
                  << "expire after " << c.reservation_ttl_seconds << " s\n"
                  << std::flush;
        auto o = workers.wait_settled(c.product_id, std::chrono::seconds{60});
        std::cout << "demo outcome: paid " << o.paid << " (orders " << o.orders << "), failed "
                  << o.failed << ", expired " << o.expired << ", pending " << o.pending
                  << ", paying " << o.paying << "; available " << o.available << " of "
                  << o.stock_total << ": conservation "
                  << (o.conserved() && o.orders == o.paid ? "OK" : "VIOLATED") << "\n"
                  << std::flush;
        if (!o.conserved() || o.orders != o.paid) rc = 3;
      }
    }
    if (!exit_after_demo) {
      std::cout << "Ctrl-C stops everything.\n" << std::flush;
      wait_for_termination(signals);
    }
    spdlog::info("stopping");
    event_workers.stop();
    workers.stop();
    service.stop();
    simulator.stop();
    sim_runtime.stop();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    rc = 1;
  }
  (*pg)->stop();
  for (auto& sentinel : sentinels) sentinel->stop();
  if (replica) replica->stop();
  (*redis)->stop();
  return rc;
}

}  // namespace fs::cli
