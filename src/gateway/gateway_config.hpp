#pragma once
// Configuration of the gateway layers (flows 8 and 10); see docs/operations.md for the flags.
// Every layer has its own switch. The struct's switches default to off so that embedders and
// tests opt in; `flashsale serve` and `flashsale up` start from GatewayConfig::production().
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "gateway/admission_queue.hpp"
#include "gateway/bot_scorer.hpp"
#include "gateway/captcha.hpp"
#include "gateway/token_bucket.hpp"

namespace fs::gateway {

struct GatewayConfig {
  // Edge layer: token buckets per client IP and per user (429 rate_limited + Retry-After).
  bool ip_limit = false;
  BucketConfig ip_bucket{10.0, 10.0};
  bool user_limit = false;
  BucketConfig user_bucket{10.0, 10.0};
  std::size_t max_tracked_keys = 1'000'000;  // per limiter, in process
  // CIDRs whose X-Forwarded-For is believed (e.g. the load balancer). Empty: the socket peer.
  std::vector<std::string> trusted_proxies;
  // IP/user limits (GCRA script) and bans shared by every instance through Redis.
  bool distributed = false;

  // Admission queue (leaky bucket; 503 overloaded when full, 408 queue_timeout after max_wait).
  bool queue = false;
  AdmissionQueueConfig queue_config;

  // Service layer: reservations in flight in this process (503 overloaded beyond).
  bool concurrency_limit = false;
  std::int64_t max_in_flight = 10'000;

  // Bot scoring and CAPTCHA (403 captcha_required / 403 blocked).
  bool bot_detection = false;
  BotScorerConfig bot;  // bot.threshold: default 80
  CaptchaConfig captcha;
  std::chrono::seconds captcha_token_ttl{300};
  std::chrono::seconds ban_duration{3600};
  // Key of the captcha_token HMAC; every instance needs the same. Empty: derived from the JWT
  // secret by the service.
  std::string captcha_secret;
  std::string redis_prefix = "fs:gw:";

  bool any_layer() const {
    return ip_limit || user_limit || queue || concurrency_limit || bot_detection;
  }
  // Every layer on, with the documented defaults.
  static GatewayConfig production() {
    GatewayConfig c;
    c.ip_limit = c.user_limit = c.queue = c.concurrency_limit = c.bot_detection = true;
    return c;
  }
};

}  // namespace fs::gateway
