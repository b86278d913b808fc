// The long-running processes that attach to existing Redis and PostgreSQL: serve and worker.
#include <spdlog/spdlog.h>

#include <iostream>
#include <memory>

#include "app/cli/commands.hpp"
#include "app/metrics_listener.hpp"
#include "metrics/metrics_registry.hpp"

namespace fs::cli {

void ServeCommand::add_to(CLI::App& app) {
  cmd = app.add_subcommand("serve", "Run the service against running Redis/PostgreSQL");
  add_service_options(*cmd, cfg);
  cmd->add_option("--redis", redis, "Redis host:port")->capture_default_str();
  cmd->add_option("--redis-sentinels", sentinels,
                  "Follow the Redis master through these sentinels (h:p,h:p,h:p; replaces "
                  "--redis)");
  cmd->add_option("--redis-master-name", master_name, "Master name known to the sentinels")
      ->capture_default_str();
  cmd->add_option("--pg", cfg.pg_conninfo, "PostgreSQL connection string (libpq)")->required();
  cmd->add_option("--jwt-secret", cfg.jwt_secret, "Token secret (FLASHSALE_JWT_SECRET overrides)");
  gateway.add_to(*cmd);
}

int ServeCommand::run(const sigset_t& signals) {
  cfg.jwt_secret = secret_from_env_or(cfg.jwt_secret);
  cfg.gateway = gateway.apply();
  if (!split_host_port(redis, cfg.redis_host, cfg.redis_port)) {
    std::cerr << "--redis: host:port expected, got " << redis << "\n";
    return 2;
  }
  if (!apply_sentinels(sentinels, master_name, cfg.redis_sentinel)) return 2;
  try {
    app::FlashsaleService service(cfg);
    service.start();
    spdlog::info("flashsale listening on http://{}:{}", cfg.bind, service.port());
    int sig = wait_for_termination(signals);
    spdlog::info("signal {}: draining and stopping", sig);
    service.stop();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}

void WorkerCommand::add_to(CLI::App& app) {
  cmd = app.add_subcommand("worker", "Run worker roles (saga, sweeper) on their own");
  cmd->add_option("--roles", roles, "Comma-separated: saga,sweeper,relay,notifier")
      ->capture_default_str();
  cmd->add_option("--redis", redis, "Redis host:port")->capture_default_str();
  cmd->add_option("--redis-sentinels", sentinels,
                  "Follow the Redis master through these sentinels (h:p,h:p,h:p)");
  cmd->add_option("--redis-master-name", master_name, "Master name known to the sentinels")
      ->capture_default_str();
  cmd->add_option("--pg", cfg.pg_conninfo, "PostgreSQL connection string")->required();
  cmd->add_option("--payments", payments, "Payment provider host:port (plain HTTP)")
      ->capture_default_str();
  cmd->add_option("--payments-key", cfg.payments_secret_key)->capture_default_str();
  cmd->add_option("--payments-timeout-ms", payments_timeout_ms)->capture_default_str();
  cmd->add_option("--saga-concurrency", cfg.saga_concurrency)->capture_default_str();
  cmd->add_option("--threads", cfg.threads)->capture_default_str();
  cmd->add_option("--sweep-interval-ms", sweep_ms)->capture_default_str();
  cmd->add_option("--sweep-batch", cfg.sweep_batch)->capture_default_str();
  cmd->add_option("--lease-ms", lease_ms,
                  "How long a claimed saga is protected (renewed every third of it while it runs)")
      ->capture_default_str();
  cmd->add_option("--retry-give-up-ms", give_up_ms)->capture_default_str();
  cmd->add_option("--metrics-port", metrics_port,
                  "Serve GET /metrics and /healthz on this port (0: a free one; default: off)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--metrics-address", metrics_address)->capture_default_str();
  cmd->add_option("--stale-paying-after-ms", stale_ms)->capture_default_str();
  cmd->add_flag("--poll-intake,!--no-poll-intake", poll_intake,
                "Pick up every PAYING reservation by polling (no event log)")
      ->capture_default_str();
  cmd->add_flag("--event-log", event_log,
                "Consume payment.requested from the event log (Redis Streams), group saga");
  add_event_worker_options(*cmd, event_cfg);
}

int WorkerCommand::run(const sigset_t& signals) {
  std::string err;
  event_cfg.roles = app::take_event_roles(roles);
  if (!roles.empty()) cfg.roles = app::parse_roles(roles, &err);
  if (cfg.roles.empty() && (event_cfg.roles.empty() || !err.empty())) {
    std::cerr << (err.empty() ? std::string("no role given") : err) << "\n";
    return 2;
  }
  if (!split_host_port(redis, cfg.redis_host, cfg.redis_port)) {
    std::cerr << "--redis: host:port expected, got " << redis << "\n";
    return 2;
  }
  if (!split_host_port(payments, cfg.payments_host, cfg.payments_port)) {
    std::cerr << "--payments: host:port expected, got " << payments << "\n";
    return 2;
  }
  cfg.payments_timeout = std::chrono::milliseconds{payments_timeout_ms};
  cfg.sweep_interval = std::chrono::milliseconds{sweep_ms};
  cfg.lease = std::chrono::milliseconds{lease_ms};
  cfg.retry.give_up_after = std::chrono::milliseconds{give_up_ms};
  cfg.stale_paying_after = std::chrono::milliseconds{stale_ms};
  cfg.poll_intake = poll_intake;
  if (const char* k = std::getenv("FLASHSALE_SAGA_KILL_AT"); k && *k) cfg.kill_at = k;
  if (!apply_sentinels(sentinels, master_name, cfg.redis_sentinel)) return 2;
  event_cfg.redis_host = cfg.redis_host;
  event_cfg.redis_port = cfg.redis_port;
  event_cfg.redis_sentinel = cfg.redis_sentinel;
  if (event_log) cfg.event_log = app::redis_streams_event_log(cfg);
  event_cfg.pg_conninfo = cfg.pg_conninfo;
  try {
    // One registry for every role of this process, served by --metrics-port.
    metrics::MetricsRegistry registry;
    cfg.registry = &registry;
    std::unique_ptr<app::BackgroundWorkers> workers;
    if (!cfg.roles.empty()) {
      workers = std::make_unique<app::BackgroundWorkers>(cfg);
      workers->start();
    }
    app::EventWorkers event_workers(event_cfg, &registry);
    event_workers.start();
    std::string running = roles;
    for (const auto& r : event_cfg.roles) running += (running.empty() ? "" : ",") + r;
    std::unique_ptr<app::MetricsListener> listener;
    if (metrics_port >= 0) {
      listener = std::make_unique<app::MetricsListener>(
          registry, metrics_address, static_cast<std::uint16_t>(metrics_port), running);
      listener->start();
      spdlog::info("metrics: http://{}:{}/metrics", metrics_address, listener->port());
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

}  // namespace fs::cli
