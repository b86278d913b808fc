#pragma once
// The subcommands of the flashsale binary (app/main.cpp dispatches): each declares its options on
// the CLI11 app and runs once parsed. Only the executable includes CLI11.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdint>
#include <string>

#include "app/event_workers.hpp"
#include "app/gateway_cli.hpp"
#include "app/service.hpp"
#include "app/workers.hpp"
#include "crowd/crowd.hpp"
#include "payments_sim/payment_simulator.hpp"

namespace fs::cli {

// Signals are taken synchronously by the main thread (sigwait); every other thread, including
// the children we spawn before unblocking them, starts with them blocked.
sigset_t block_termination_signals();
int wait_for_termination(const sigset_t& set);
// FLASHSALE_JWT_SECRET if set, else `configured`.
std::string secret_from_env_or(const std::string& configured);
std::string mint(const std::string& secret, const std::string& sub, bool admin,
                 std::int64_t ttl_seconds);
// "host:port" (the port after the last colon) into host and port; false if the port is not a
// number in 1..65535.
bool split_host_port(const std::string& address, std::string& host, std::uint16_t& port);
// --redis-sentinels h:p,h:p,... and --redis-master-name into `out` (nothing when `list` is
// empty); false (after printing why) if the list does not parse.
bool apply_sentinels(const std::string& list, const std::string& master_name,
                     redis::SentinelConfig& out);
// Options shared by several commands.
void add_service_options(CLI::App& cmd, app::ServiceConfig& cfg);
// The event roles (relay, notifier), for `worker` and `up` (which runs them in-process).
void add_event_worker_options(CLI::App& cmd, app::EventWorkersConfig& cfg);

// up: Redis, PostgreSQL, the service, the workers and the payment simulator on loopback, data
// under one folder; a demonstration sale.
struct UpCommand {
  CLI::App* cmd = nullptr;
  app::ServiceConfig cfg;
  app::EventWorkersConfig event_cfg;
  app::GatewayFlags gateway;
  std::string data_dir = ".data";
  bool demo = true, exit_after_demo = false, sentinel = false;
  std::size_t demo_users = 20000, demo_connections = 256, demo_bots = 0;
  std::int64_t demo_stock = 100;
  std::string event_roles = "relay,notifier";
  std::int64_t pay_latency_min = 50, pay_latency_max = 300;
  std::size_t pg_wal_ready_mb = 1024;  // stack::PostgresOptions::wal_ready_mb
  void add_to(CLI::App& app);
  int run(const sigset_t& signals);
};

// serve: the service against running Redis and PostgreSQL.
struct ServeCommand {
  CLI::App* cmd = nullptr;
  app::ServiceConfig cfg;
  app::GatewayFlags gateway;
  std::string redis = "127.0.0.1:6379", sentinels, master_name = "flashsale";
  void add_to(CLI::App& app);
  int run(const sigset_t& signals);
};

// worker: roles that share only Redis and PostgreSQL with the service.
struct WorkerCommand {
  CLI::App* cmd = nullptr;
  app::WorkersConfig cfg;
  app::EventWorkersConfig event_cfg;
  std::string redis = "127.0.0.1:6379", roles = "saga,sweeper,relay,notifier",
              payments = "127.0.0.1:12111", sentinels, master_name = "flashsale";
  std::int64_t sweep_ms = 60'000, lease_ms = 6'000, give_up_ms = 60'000,
               payments_timeout_ms = 10'000, stale_ms = 10'000;
  bool poll_intake = true, event_log = false;
  int metrics_port = -1;
  std::string metrics_address = "127.0.0.1";
  void add_to(CLI::App& app);
  int run(const sigset_t& signals);
};

// crowd: race a crowd of users at one product and check the invariants.
struct CrowdCommand {
  CLI::App* cmd = nullptr;
  crowd::CrowdOptions opts;
  bool no_setup = false, no_progress = false;
  void add_to(CLI::App& app);
  int run();
};

// token: mint a JWT.
struct TokenCommand {
  CLI::App* cmd = nullptr;
  std::string sub = "user-1", secret;
  bool admin = false;
  std::int64_t ttl = 3600;
  void add_to(CLI::App& app);
  int run();
};

// payments-sim: the Stripe-compatible simulator.
struct PaymentsSimCommand {
  CLI::App* cmd = nullptr;
  payments_sim::PaymentSimulatorOptions opts;
  std::int64_t latency_min = opts.latency_min.count();
  std::int64_t latency_max = opts.latency_max.count();
  void add_to(CLI::App& app);
  int run();
};

}  // namespace fs::cli
