// The client-side tools: token, crowd, payments-sim.
#include <iostream>

#include "app/cli/commands.hpp"

namespace fs::cli {

void TokenCommand::add_to(CLI::App& app) {
  cmd = app.add_subcommand("token", "Mint a JWT");
  cmd->add_option("--sub", sub)->capture_default_str();
  cmd->add_flag("--admin", admin);
  cmd->add_option("--ttl", ttl, "Seconds")->capture_default_str();
  cmd->add_option("--jwt-secret", secret, "FLASHSALE_JWT_SECRET overrides");
}

int TokenCommand::run() {
  const std::string key = secret_from_env_or(secret);
  if (key.empty()) {
    std::cerr << "set FLASHSALE_JWT_SECRET or --jwt-secret\n";
    return 2;
  }
  std::cout << mint(key, sub, admin, ttl) << "\n";
  return 0;
}

void CrowdCommand::add_to(CLI::App& app) {
  cmd = app.add_subcommand("crowd", "Race a crowd of users at one product");
  cmd->add_option("--host", opts.host)->capture_default_str();
  cmd->add_option("--port", opts.port)->capture_default_str();
  cmd->add_option("--product", opts.product_id)->capture_default_str();
  cmd->add_option("--users", opts.users)->capture_default_str();
  cmd->add_option("--requests-per-user", opts.requests_per_user)->capture_default_str();
  cmd->add_option("--connections", opts.connections)->capture_default_str();
  cmd->add_option("--threads", opts.threads)->capture_default_str();
  cmd->add_option("--stock", opts.stock)->capture_default_str();
  cmd->add_option("--shards", opts.shards)->capture_default_str();
  cmd->add_option("--per-user-limit", opts.per_user_limit)->capture_default_str();
  cmd->add_option("--payment-method", opts.payment_method);
  cmd->add_option("--bots", opts.bots, "Bots among the users (headless, hammering)")
      ->capture_default_str();
  cmd->add_option("--requests-per-bot", opts.requests_per_bot)->capture_default_str();
  cmd->add_flag("--forwarded-ips", opts.forwarded_ips,
                "One X-Forwarded-For client IP per user (the server must trust this host)");
  cmd->add_option("--jwt-secret", opts.jwt_secret, "FLASHSALE_JWT_SECRET overrides");
  cmd->add_flag("--no-setup", no_setup, "Use the existing product as it is");
  cmd->add_flag("--no-progress", no_progress);
  cmd->add_flag("--json", opts.json, "Print the report as JSON");
}

int CrowdCommand::run() {
  opts.jwt_secret = secret_from_env_or(opts.jwt_secret);
  opts.setup_product = !no_setup;
  opts.progress = !no_progress;
  auto report = crowd::run_crowd(opts);
  if (!report) {
    std::cerr << "crowd failed: " << report.error().message << "\n";
    return 1;
  }
  std::cout << crowd::format_report(*report, opts.json) << std::flush;
  return report->invariants.ok ? 0 : 3;
}

void PaymentsSimCommand::add_to(CLI::App& app) {
  cmd = app.add_subcommand("payments-sim", "Run the Stripe-compatible simulator");
  cmd->add_option("--bind", opts.address)->capture_default_str();
  cmd->add_option("--port", opts.port, "0 picks a free port")->capture_default_str();
  cmd->add_option("--threads", opts.threads)->capture_default_str();
  cmd->add_option("--latency-min-ms", latency_min)->capture_default_str();
  cmd->add_option("--latency-max-ms", latency_max)->capture_default_str();
  cmd->add_option("--fault-timeout-rate", opts.fault_timeout_rate, "0..1")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--fault-5xx-rate", opts.fault_5xx_rate, "0..1")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--fault-drop-rate", opts.fault_drop_rate, "0..1: charge, then never answer")
      ->check(CLI::Range(0.0, 1.0));
}

int PaymentsSimCommand::run() {
  opts.latency_min = std::chrono::milliseconds{latency_min};
  opts.latency_max = std::chrono::milliseconds{latency_max};
  return payments_sim::run_payments_sim(opts);
}

}  // namespace fs::cli
