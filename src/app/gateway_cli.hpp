#pragma once
// Command-line flags of the gateway layers for `flashsale serve` and `flashsale up`
// (docs/operations.md). Header-only: only main.cpp uses CLI11.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "gateway/gateway_config.hpp"

namespace fs::app {

// Values the flags write; apply() turns them into the GatewayConfig (0 switches a layer off).
struct GatewayFlags {
  gateway::GatewayConfig config = gateway::GatewayConfig::production();
  bool no_gateway = false;
  bool no_bot_detection = false;
  double ip_rate = 10, ip_burst = 10, user_rate = 10, user_burst = 10;
  double queue_drain = 10'000;
  std::size_t queue_max = 100'000;
  std::int64_t queue_max_wait_ms = 30'000;
  std::int64_t max_in_flight = 10'000;
  std::int64_t ban_seconds = 3600;

  void add_to(CLI::App& cmd) {
    cmd.add_flag("--no-gateway", no_gateway,
                 "Switch every gateway layer off (benchmarks of the bare service)");
    cmd.add_option("--ip-rate", ip_rate, "Requests/s per client IP (token bucket); 0: off")
        ->capture_default_str();
    cmd.add_option("--ip-burst", ip_burst, "Burst per client IP")->capture_default_str();
    cmd.add_option("--user-rate", user_rate, "Requests/s per user (token bucket); 0: off")
        ->capture_default_str();
    cmd.add_option("--user-burst", user_burst, "Burst per user")->capture_default_str();
    cmd.add_option("--trusted-proxy", config.trusted_proxies,
                   "CIDR whose X-Forwarded-For is believed (repeatable)");
    cmd.add_flag("--distributed-limits", config.distributed,
                 "Share IP/user limits and bans between instances through Redis");
    cmd.add_option("--queue-drain-rate", queue_drain,
                   "Admission queue drain rate, requests/s; 0: no queue")
        ->capture_default_str();
    cmd.add_option("--queue-max-length", queue_max, "Admission queue length (then 503)")
        ->capture_default_str();
    cmd.add_option("--queue-max-wait-ms", queue_max_wait_ms, "Longest wait in the queue (then 408)")
        ->capture_default_str();
    cmd.add_option("--max-in-flight", max_in_flight, "Reservations in flight; 0: no limit")
        ->capture_default_str();
    cmd.add_option("--bot-threshold", config.bot.threshold,
                   "Bot score (0-100) above which a CAPTCHA is required")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 100.0));
    cmd.add_flag("--no-bot-detection", no_bot_detection, "No bot scoring, CAPTCHA or bans");
    cmd.add_option("--ban-seconds", ban_seconds, "Ban after a failed CAPTCHA")
        ->capture_default_str();
  }

  gateway::GatewayConfig apply() const {
    gateway::GatewayConfig c = config;
    c.ip_limit = ip_rate > 0;
    c.ip_bucket = {ip_rate > 0 ? ip_rate : 1, std::max(1.0, ip_burst)};
    c.user_limit = user_rate > 0;
    c.user_bucket = {user_rate > 0 ? user_rate : 1, std::max(1.0, user_burst)};
    c.queue = queue_drain > 0;
    c.queue_config.drain_per_second = queue_drain > 0 ? queue_drain : 1;
    c.queue_config.max_length = queue_max;
    c.queue_config.max_wait_ns = std::max<std::int64_t>(1, queue_max_wait_ms) * 1'000'000;
    c.concurrency_limit = max_in_flight > 0;
    c.max_in_flight = max_in_flight;
    c.bot_detection = !no_bot_detection;
    c.ban_duration = std::chrono::seconds{std::max<std::int64_t>(1, ban_seconds)};
    if (no_gateway)
      c.ip_limit = c.user_limit = c.queue = c.concurrency_limit = c.bot_detection = false;
    return c;
  }
};

}  // namespace fs::app
