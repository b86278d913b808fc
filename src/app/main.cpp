// flashsale: the flash-sale backend. Subcommands:
//   up     start Redis, PostgreSQL and the service locally (data under one folder), run a demo sale
//   serve  run the service against existing Redis and PostgreSQL
//   crowd  race a crowd of users at a product on a running server and check the invariants
//   token  mint a JWT for a user (or an admin)
//   payments-sim  run the Stripe-compatible payment simulator (latency and fault injection)
//   worker roles that share only Redis and PostgreSQL with the service (saga, sweeper, relay,
//          notifier)
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "app/event_workers.hpp"
#include "app/gateway_cli.hpp"
#include "app/metrics_listener.hpp"
#include "app/readiness_probe.hpp"
#include "app/service.hpp"
#include "app/workers.hpp"
#include "common/clock.hpp"
#include "common/random.hpp"
#include "crowd/crowd.hpp"
#include "domain/jwt.hpp"
#include "metrics/metrics_registry.hpp"
#include "payments_sim/payment_simulator.hpp"
#include "runtime/io_runtime.hpp"
#include "stack/local_servers.hpp"

namespace {

// Signals are taken synchronously by the main thread (sigwait); every other thread, including
// the children we spawn before unblocking them, starts with them blocked.
sigset_t block_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int wait_for_termination(const sigset_t& set) {
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

std::string secret_from_env_or(const std::string& configured) {
  if (const char* s = std::getenv("FLASHSALE_JWT_SECRET"); s && *s) return s;
  return configured;
}

std::string mint(const std::string& secret, const std::string& sub, bool admin,
                 std::int64_t ttl_seconds) {
  fs::auth::Claims c;
  c.sub = sub;
  c.exp = std::chrono::duration_cast<std::chrono::seconds>(
              fs::SystemClock::instance().now().time_since_epoch())
              .count() +
          ttl_seconds;
  if (admin) c.role = "admin";
  return fs::auth::sign_jwt(c, secret);
}

// Options of the event roles (relay, notifier), for `worker` and `up` (which runs them in-process).
void add_event_worker_options(CLI::App& cmd, fs::app::EventWorkersConfig& cfg) {
  cmd.add_option("--smtp-url", cfg.smtp.url, "SMTP server for e-mail notifications (smtp://h:p)");
  cmd.add_option("--smtp-from", cfg.smtp.from)->capture_default_str();
  cmd.add_option("--email-domain", cfg.notifier.email_domain, "Recipients: <user_id>@<domain>")
      ->capture_default_str();
  cmd.add_option("--partitions", cfg.streams.partitions, "Stream keys per topic")
      ->capture_default_str();
  cmd.add_option("--stream-prefix", cfg.streams.key_prefix, "Prefix of the event stream keys")
      ->capture_default_str();
}

void add_service_options(CLI::App& cmd, fs::app::ServiceConfig& cfg) {
  cmd.add_option("--bind", cfg.bind, "Address to listen on")->capture_default_str();
  cmd.add_option("--http-port", cfg.http_port, "HTTP port")->capture_default_str();
  cmd.add_option("--threads", cfg.threads, "I/O threads (one io_context each)")
      ->capture_default_str();
  cmd.add_option("--pg-connections", cfg.pg_connections_per_thread,
                 "PostgreSQL connections per I/O thread")
      ->capture_default_str();
  cmd.add_option("--body-limit", cfg.body_limit, "Request body limit in bytes")
      ->capture_default_str();
  cmd.add_option("--insert-batches", cfg.insert_batches_per_thread,
                 "Reservation INSERT batches in flight per I/O thread (group commit)")
      ->capture_default_str();
  cmd.add_option("--insert-lanes", cfg.insert_lanes,
                 "Batch each ledger shard's reservations on one I/O thread (shard % threads), so "
                 "the threads' commits never wait for each other's shard row locks")
      ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"flashsale: a flash-sale backend (reserve, pay, never oversell)"};
  app.require_subcommand(1);

  fs::app::ServiceConfig serve_cfg;
  std::string redis_addr = "127.0.0.1:6379";
  auto* serve = app.add_subcommand("serve", "Run the service against running Redis/PostgreSQL");
  add_service_options(*serve, serve_cfg);
  serve->add_option("--redis", redis_addr, "Redis host:port")->capture_default_str();
  std::string serve_sentinels, serve_master_name = "flashsale";
  serve->add_option("--redis-sentinels", serve_sentinels,
                    "Follow the Redis master through these sentinels (h:p,h:p,h:p; replaces "
                    "--redis)");
  serve->add_option("--redis-master-name", serve_master_name, "Master name known to the sentinels")
      ->capture_default_str();
  serve->add_option("--pg", serve_cfg.pg_conninfo, "PostgreSQL connection string (libpq)")
      ->required();
  serve->add_option("--jwt-secret", serve_cfg.jwt_secret,
                    "Token secret (FLASHSALE_JWT_SECRET overrides)");
  fs::app::GatewayFlags serve_gateway;
  serve_gateway.add_to(*serve);

  fs::app::ServiceConfig up_cfg;
  std::string data_dir = ".data";
  bool demo = true, exit_after_demo = false;
  std::size_t demo_users = 20000, demo_connections = 256;
  std::int64_t demo_stock = 100;
  auto* up = app.add_subcommand("up", "Start Redis, PostgreSQL and the service; run a demo sale");
  add_service_options(*up, up_cfg);
  up->add_option("--data-dir", data_dir, "Folder for all data and logs")->capture_default_str();
  up->add_flag("--demo,!--no-demo", demo, "Run a demonstration flash sale once up")
      ->capture_default_str();
  up->add_option("--demo-users", demo_users, "Users in the demo crowd")->capture_default_str();
  up->add_option("--demo-stock", demo_stock, "Units on sale in the demo")->capture_default_str();
  up->add_option("--demo-connections", demo_connections, "Connections of the demo crowd")
      ->capture_default_str();
  up->add_flag("--exit-after-demo", exit_after_demo, "Stop everything after the demo sale");
  bool up_sentinel = false;
  up->add_flag("--sentinel", up_sentinel,
               "Redis as 1 master + 1 replica + 3 sentinels (quorum 2), followed through Sentinel");
  fs::app::GatewayFlags up_gateway;
  // Local only: the demo crowd on loopback presents many client IPs through X-Forwarded-For.
  up_gateway.config.trusted_proxies = {"127.0.0.0/8", "::1"};
  up_gateway.add_to(*up);
  std::size_t demo_bots = 0;
  up->add_option("--demo-bots", demo_bots, "Bots (headless, hammering) in the demo crowd")
      ->capture_default_str();

  fs::crowd::CrowdOptions crowd_opts;
  std::string url_port;
  auto* crowd = app.add_subcommand("crowd", "Race a crowd of users at one product");
  crowd->add_option("--host", crowd_opts.host)->capture_default_str();
  crowd->add_option("--port", crowd_opts.port)->capture_default_str();
  crowd->add_option("--product", crowd_opts.product_id)->capture_default_str();
  crowd->add_option("--users", crowd_opts.users)->capture_default_str();
  crowd->add_option("--requests-per-user", crowd_opts.requests_per_user)->capture_default_str();
  crowd->add_option("--connections", crowd_opts.connections)->capture_default_str();
  crowd->add_option("--threads", crowd_opts.threads)->capture_default_str();
  crowd->add_option("--stock", crowd_opts.stock)->capture_default_str();
  crowd->add_option("--shards", crowd_opts.shards)->capture_default_str();
  crowd->add_option("--per-user-limit", crowd_opts.per_user_limit)->capture_default_str();
  crowd->add_option("--payment-method", crowd_opts.payment_method);
  crowd->add_option("--bots", crowd_opts.bots, "Bots among the users (headless, hammering)")
      ->capture_default_str();
  crowd->add_option("--requests-per-bot", crowd_opts.requests_per_bot)->capture_default_str();
  crowd->add_flag("--forwarded-ips", crowd_opts.forwarded_ips,
                  "One X-Forwarded-For client IP per user (the server must trust this host)");
  crowd->add_option("--jwt-secret", crowd_opts.jwt_secret, "FLASHSALE_JWT_SECRET overrides");
  bool no_setup = false, no_progress = false;
  crowd->add_flag("--no-setup", no_setup, "Use the existing product as it is");
  crowd->add_flag("--no-progress", no_progress);
  crowd->add_flag("--json", crowd_opts.json, "Print the report as JSON");

  std::string token_sub = "user-1", token_secret;
  bool token_admin = false;
  std::int64_t token_ttl = 3600;
  auto* token = app.add_subcommand("token", "Mint a JWT");
  token->add_option("--sub", token_sub)->capture_default_str();
  token->add_flag("--admin", token_admin);
  token->add_option("--ttl", token_ttl, "Seconds")->capture_default_str();
  token->add_option("--jwt-secret", token_secret, "FLASHSALE_JWT_SECRET overrides");

  fs::payments_sim::PaymentSimulatorOptions sim_opts;
  std::int64_t sim_latency_min = sim_opts.latency_min.count();
  std::int64_t sim_latency_max = sim_opts.latency_max.count();
  auto* payments_sim = app.add_subcommand("payments-sim", "Run the Stripe-compatible simulator");
  payments_sim->add_option("--bind", sim_opts.address)->capture_default_str();
  payments_sim->add_option("--port", sim_opts.port, "0 picks a free port")->capture_default_str();
  payments_sim->add_option("--threads", sim_opts.threads)->capture_default_str();
  payments_sim->add_option("--latency-min-ms", sim_latency_min)->capture_default_str();
  payments_sim->add_option("--latency-max-ms", sim_latency_max)->capture_default_str();
  payments_sim->add_option("--fault-timeout-rate", sim_opts.fault_timeout_rate, "0..1")
      ->check(CLI::Range(0.0, 1.0));
  payments_sim->add_option("--fault-5xx-rate", sim_opts.fault_5xx_rate, "0..1")
      ->check(CLI::Range(0.0, 1.0));
  payments_sim
      ->add_option("--fault-drop-rate", sim_opts.fault_drop_rate, "0..1: charge, then never answer")
      ->check(CLI::Range(0.0, 1.0));

  fs::app::WorkersConfig worker_cfg;
  std::string worker_redis = "127.0.0.1:6379", worker_roles = "saga,sweeper,relay,notifier",
              worker_payments = "127.0.0.1:12111";
  std::int64_t worker_sweep_ms = 60'000, worker_lease_ms = 6'000, worker_give_up_ms = 60'000,
               worker_payments_timeout_ms = 10'000, worker_stale_ms = 10'000;
  bool worker_poll_intake = true, worker_event_log = false;
  int worker_metrics_port = -1;
  std::string worker_metrics_address = "127.0.0.1";
  auto* worker = app.add_subcommand("worker", "Run worker roles (saga, sweeper) on their own");
  worker->add_option("--roles", worker_roles, "Comma-separated: saga,sweeper,relay,notifier")
      ->capture_default_str();
  worker->add_option("--redis", worker_redis, "Redis host:port")->capture_default_str();
  std::string worker_sentinels, worker_master_name = "flashsale";
  worker->add_option("--redis-sentinels", worker_sentinels,
                     "Follow the Redis master through these sentinels (h:p,h:p,h:p)");
  worker
      ->add_option("--redis-master-name", worker_master_name, "Master name known to the sentinels")
      ->capture_default_str();
  worker->add_option("--pg", worker_cfg.pg_conninfo, "PostgreSQL connection string")->required();
  worker->add_option("--payments", worker_payments, "Payment provider host:port (plain HTTP)")
      ->capture_default_str();
  worker->add_option("--payments-key", worker_cfg.payments_secret_key)->capture_default_str();
  worker->add_option("--payments-timeout-ms", worker_payments_timeout_ms)->capture_default_str();
  worker->add_option("--saga-concurrency", worker_cfg.saga_concurrency)->capture_default_str();
  worker->add_option("--threads", worker_cfg.threads)->capture_default_str();
  worker->add_option("--sweep-interval-ms", worker_sweep_ms)->capture_default_str();
  worker->add_option("--sweep-batch", worker_cfg.sweep_batch)->capture_default_str();
  worker
      ->add_option("--lease-ms", worker_lease_ms,
                   "How long a claimed saga is protected (renewed every third of it while it runs)")
      ->capture_default_str();
  worker->add_option("--retry-give-up-ms", worker_give_up_ms)->capture_default_str();
  worker
      ->add_option("--metrics-port", worker_metrics_port,
                   "Serve GET /metrics and /healthz on this port (0: a free one; default: off)")
      ->check(CLI::Range(0, 65535));
  worker->add_option("--metrics-address", worker_metrics_address)->capture_default_str();
  worker->add_option("--stale-paying-after-ms", worker_stale_ms)->capture_default_str();
  worker
      ->add_flag("--poll-intake,!--no-poll-intake", worker_poll_intake,
                 "Pick up every PAYING reservation by polling (no event log)")
      ->capture_default_str();
  worker->add_flag("--event-log", worker_event_log,
                   "Consume payment.requested from the event log (Redis Streams), group saga");

  fs::app::EventWorkersConfig event_cfg;
  add_event_worker_options(*worker, event_cfg);
  add_event_worker_options(*up, event_cfg);
  std::string up_event_roles = "relay,notifier";
  up->add_option("--event-roles", up_event_roles,
                 "Event roles run in-process (relay,notifier; empty: none, e.g. to benchmark)")
      ->capture_default_str();

  std::int64_t up_pay_latency_min = 50, up_pay_latency_max = 300;
  up->add_option("--payments-latency-min-ms", up_pay_latency_min)->capture_default_str();
  up->add_option("--payments-latency-max-ms", up_pay_latency_max)->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  if (*token) {
    std::string secret = secret_from_env_or(token_secret);
    if (secret.empty()) {
      std::cerr << "set FLASHSALE_JWT_SECRET or --jwt-secret\n";
      return 2;
    }
    std::cout << mint(secret, token_sub, token_admin, token_ttl) << "\n";
    return 0;
  }

  if (*crowd) {
    crowd_opts.jwt_secret = secret_from_env_or(crowd_opts.jwt_secret);
    crowd_opts.setup_product = !no_setup;
    crowd_opts.progress = !no_progress;
    auto report = fs::crowd::run_crowd(crowd_opts);
    if (!report) {
      std::cerr << "crowd failed: " << report.error().message << "\n";
      return 1;
    }
    std::cout << fs::crowd::format_report(*report, crowd_opts.json) << std::flush;
    return report->invariants.ok ? 0 : 3;
  }

  if (*payments_sim) {
    sim_opts.latency_min = std::chrono::milliseconds{sim_latency_min};
    sim_opts.latency_max = std::chrono::milliseconds{sim_latency_max};
    return fs::payments_sim::run_payments_sim(sim_opts);
  }

  sigset_t signals = block_termination_signals();

  if (*worker) {
    std::string err;
    event_cfg.roles = fs::app::take_event_roles(worker_roles);
    if (!worker_roles.empty()) worker_cfg.roles = fs::app::parse_roles(worker_roles, &err);
    if (worker_cfg.roles.empty() && (event_cfg.roles.empty() || !err.empty())) {
      std::cerr << (err.empty() ? std::string("no role given") : err) << "\n";
      return 2;
    }
    auto rc = worker_redis.rfind(':');
    worker_cfg.redis_host = worker_redis.substr(0, rc);
    worker_cfg.redis_port = static_cast<std::uint16_t>(std::stoi(worker_redis.substr(rc + 1)));
    auto pc = worker_payments.rfind(':');
    worker_cfg.payments_host = worker_payments.substr(0, pc);
    worker_cfg.payments_port =
        static_cast<std::uint16_t>(std::stoi(worker_payments.substr(pc + 1)));
    worker_cfg.payments_timeout = std::chrono::milliseconds{worker_payments_timeout_ms};
    worker_cfg.sweep_interval = std::chrono::milliseconds{worker_sweep_ms};
    worker_cfg.lease = std::chrono::milliseconds{worker_lease_ms};
    worker_cfg.retry.give_up_after = std::chrono::milliseconds{worker_give_up_ms};
    worker_cfg.stale_paying_after = std::chrono::milliseconds{worker_stale_ms};
    worker_cfg.poll_intake = worker_poll_intake;
    if (const char* k = std::getenv("FLASHSALE_SAGA_KILL_AT"); k && *k) worker_cfg.kill_at = k;
    if (!worker_sentinels.empty()) {
      auto sentinels = fs::redis::parse_address_list(worker_sentinels);
      if (!sentinels) {
        std::cerr << "--redis-sentinels: " << sentinels.error().message << "\n";
        return 2;
      }
      worker_cfg.redis_sentinel.sentinels = std::move(*sentinels);
      worker_cfg.redis_sentinel.master_name = worker_master_name;
    }
    event_cfg.redis_host = worker_cfg.redis_host;
    event_cfg.redis_port = worker_cfg.redis_port;
    event_cfg.redis_sentinel = worker_cfg.redis_sentinel;
    if (worker_event_log) worker_cfg.event_log = fs::app::redis_streams_event_log(worker_cfg);
    event_cfg.pg_conninfo = worker_cfg.pg_conninfo;
    try {
      // One registry for every role of this process, served by --metrics-port.
      fs::metrics::MetricsRegistry registry;
      worker_cfg.registry = &registry;
      std::unique_ptr<fs::app::BackgroundWorkers> workers;
      if (!worker_cfg.roles.empty()) {
        workers = std::make_unique<fs::app::BackgroundWorkers>(worker_cfg);
        workers->start();
      }
      fs::app::EventWorkers event_workers(event_cfg, &registry);
      event_workers.start();
      std::string running = worker_roles;
      for (const auto& r : event_cfg.roles) running += (running.empty() ? "" : ",") + r;
      std::unique_ptr<fs::app::MetricsListener> listener;
      if (worker_metrics_port >= 0) {
        listener = std::make_unique<fs::app::MetricsListener>(
            registry, worker_metrics_address, static_cast<std::uint16_t>(worker_metrics_port),
            running);
        listener->start();
        spdlog::info("metrics: http://{}:{}/metrics", worker_metrics_address, listener->port());
      }
      spdlog::info("flashsale worker running (roles: {})", running);
      int sig = wait_for_termination(signals);
      spdlog::info("signal {}: stopping", sig);
      if (listener) listener->stop();
      event_workers.stop();
      if (workers) workers->stop();
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return 1;
    }
    return 0;
  }

  if (*serve) {
    serve_cfg.jwt_secret = secret_from_env_or(serve_cfg.jwt_secret);
    serve_cfg.gateway = serve_gateway.apply();
    auto colon = redis_addr.rfind(':');
    serve_cfg.redis_host = redis_addr.substr(0, colon);
    serve_cfg.redis_port = static_cast<std::uint16_t>(std::stoi(redis_addr.substr(colon + 1)));
    if (!serve_sentinels.empty()) {
      auto sentinels = fs::redis::parse_address_list(serve_sentinels);
      if (!sentinels) {
        std::cerr << "--redis-sentinels: " << sentinels.error().message << "\n";
        return 2;
      }
      serve_cfg.redis_sentinel.sentinels = std::move(*sentinels);
      serve_cfg.redis_sentinel.master_name = serve_master_name;
    }
    try {
      fs::app::FlashsaleService service(serve_cfg);
      service.start();
      spdlog::info("flashsale listening on http://{}:{}", serve_cfg.bind, service.port());
      int sig = wait_for_termination(signals);
      spdlog::info("signal {}: draining and stopping", sig);
      service.stop();
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return 1;
    }
    return 0;
  }

  // up: the whole system on loopback, data under one folder.
  namespace stdfs = std::filesystem;
  // `--event-roles ""` runs neither the outbox relay nor the notifier (benchmarks split costs).
  const auto up_roles = fs::app::take_event_roles(up_event_roles);
  if (!up_event_roles.empty()) {
    spdlog::error("--event-roles: unknown role(s) {}", up_event_roles);
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
  fs::stack::RedisOptions ro;
  ro.dir = data / "redis";
  auto redis = fs::stack::RedisServer::start(ro);
  if (!redis) {
    spdlog::error("redis-server: {}", redis.error().message);
    return 1;
  }
  spdlog::info("redis-server on 127.0.0.1:{} (data in {})", (*redis)->port(), ro.dir.string());
  // --sentinel: a replica and three sentinels (quorum 2) watching the master above.
  std::unique_ptr<fs::stack::RedisServer> replica;
  std::vector<std::unique_ptr<fs::stack::SentinelServer>> sentinels;
  if (up_sentinel) {
    fs::stack::RedisOptions rr;
    rr.dir = data / "redis-replica";
    rr.replica_of = std::pair<std::string, std::uint16_t>{"127.0.0.1", (*redis)->port()};
    auto started = fs::stack::RedisServer::start(rr);
    if (!started) {
      spdlog::error("redis replica: {}", started.error().message);
      return 1;
    }
    replica = std::move(*started);
    spdlog::info("redis replica on 127.0.0.1:{} (data in {})", replica->port(), rr.dir.string());
    for (int i = 0; i < 3; ++i) {
      fs::stack::SentinelOptions so;
      so.dir = data / ("sentinel-" + std::to_string(i + 1));
      so.master_port = (*redis)->port();
      so.quorum = 2;
      so.down_after = std::chrono::milliseconds{3000};
      so.failover_timeout = std::chrono::milliseconds{10000};
      auto sentinel = fs::stack::SentinelServer::start(so);
      if (!sentinel) {
        spdlog::error("redis-sentinel: {}", sentinel.error().message);
        return 1;
      }
      up_cfg.redis_sentinel.sentinels.push_back({"127.0.0.1", (*sentinel)->port()});
      sentinels.push_back(std::move(*sentinel));
    }
    std::string list;
    for (const auto& a : up_cfg.redis_sentinel.sentinels)
      list += (list.empty() ? "" : ",") + a.to_string();
    spdlog::info("redis-sentinel x3 (quorum 2, master name {}) on {}",
                 up_cfg.redis_sentinel.master_name, list);
  }
  fs::stack::PostgresOptions po;
  po.dir = data / "postgres";
  auto pg = fs::stack::PostgresServer::start(po);
  if (!pg) {
    spdlog::error("postgres: {}", pg.error().message);
    return 1;
  }
  spdlog::info("postgres on 127.0.0.1:{} (data in {})", (*pg)->port(), po.dir.string());

  up_cfg.gateway = up_gateway.apply();
  up_cfg.redis_port = (*redis)->port();
  up_cfg.pg_conninfo = (*pg)->conninfo();
  up_cfg.jwt_secret = secret_from_env_or("");
  bool generated_secret = up_cfg.jwt_secret.empty();
  if (generated_secret) up_cfg.jwt_secret = fs::SecureRandom::instance().hex(32);
  int rc = 0;
  try {
    // The payment simulator and the workers (saga, sweeper) run in this process.
    fs::IoRuntime sim_runtime(1);
    sim_runtime.start();
    fs::payments_sim::PaymentSimulatorOptions up_sim;
    up_sim.latency_min = std::chrono::milliseconds{up_pay_latency_min};
    up_sim.latency_max = std::chrono::milliseconds{up_pay_latency_max};
    fs::payments_sim::PaymentSimulator simulator(sim_runtime, up_sim);
    simulator.start();
    spdlog::info("payment simulator on 127.0.0.1:{}", simulator.port());
    fs::app::FlashsaleService service(up_cfg);
    service.start();
    fs::app::WorkersConfig wc;
    wc.redis_port = up_cfg.redis_port;
    wc.redis_sentinel = up_cfg.redis_sentinel;
    wc.pg_conninfo = up_cfg.pg_conninfo;
    wc.payments_port = simulator.port();
    wc.sweep_interval = std::chrono::seconds{1};
    wc.registry = &service.registry();  // saga and sweeper metrics on the service's /metrics
    // The outbox relay runs in this process too, so the saga takes payment.requested from the
    // event log (group "saga"); the PAYING scan stays as the safety net for stale sagas.
    wc.event_log = fs::app::redis_streams_event_log(wc);
    wc.poll_intake = false;
    fs::app::BackgroundWorkers workers(wc);
    workers.start();
    event_cfg.roles = up_roles;  // the outbox relay and notifications, in-process
    event_cfg.redis_port = up_cfg.redis_port;
    event_cfg.redis_sentinel = up_cfg.redis_sentinel;
    event_cfg.pg_conninfo = up_cfg.pg_conninfo;
    fs::app::EventWorkers event_workers(event_cfg, &service.registry());
    event_workers.start();
    if (!fs::app::wait_until_ready(service.port(), "/readyz", std::chrono::seconds{30})) {
      spdlog::error("the service did not become ready");
      return 1;
    }
    std::cout << "\nflashsale is up: http://127.0.0.1:" << service.port() << "\n";
    if (generated_secret) std::cout << "JWT secret (generated): " << up_cfg.jwt_secret << "\n";
    std::cout << "admin token (24 h): " << mint(up_cfg.jwt_secret, "admin", true, 86400) << "\n"
              << "metrics: http://127.0.0.1:" << service.port() << "/metrics\n\n"
              << std::flush;
    if (demo) {
      fs::crowd::CrowdOptions c;
      c.port = service.port();
      c.jwt_secret = up_cfg.jwt_secret;
      c.users = demo_users;
      c.stock = demo_stock;
      c.connections = demo_connections;
      c.reservation_ttl_seconds = 15;  // the shoppers who never pay expire soon
      c.forwarded_ips = true;  // one client IP per user, as the gateway trusts loopback here
      c.bots = demo_bots;
      std::cout << "demo: " << demo_users << " users race for " << demo_stock << " units of '"
                << c.product_id << "'\n"
                << std::flush;
      auto report = fs::crowd::run_crowd(c);
      if (!report) {
        spdlog::error("demo failed: {}", report.error().message);
        rc = 1;
      } else {
        std::cout << fs::crowd::format_report(*report, false) << std::flush;
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
