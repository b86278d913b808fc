#pragma once
// What the crowd sends to look like humans or bots to the gateway's bot scoring, the order in
// which humans and bots click, and the per-layer outcome table of flow 8 (rate-limited, queued,
// timed out, bot-blocked, sold out, reserved) that the report prints.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crowd/outcome_tally.hpp"

namespace fs::crowd {

// Browser-like signals and User-Agent (score near 2) and a headless bot's (score near 99).
std::string human_user_agent();
std::string human_signals_header();  // base64 X-Client-Signals
std::string bot_user_agent();
std::string bot_signals_header();

// User index per request: humans 0..humans-1 click `per_human` times, bots humans..humans+bots-1
// click `per_bot` times back to back (hammering); users' click runs are shuffled with `seed`.
std::vector<std::uint32_t> click_order(std::size_t humans, std::size_t per_human, std::size_t bots,
                                       std::size_t per_bot, std::uint64_t seed);

// The rows of flow 8's table, from a tally of answers.
struct LayerCounts {
  std::uint64_t total = 0;
  std::uint64_t rate_limited = 0;  // 429
  std::uint64_t queue_full = 0;    // 503 overloaded
  std::uint64_t timed_out = 0;     // 408 queue_timeout
  std::uint64_t bot_blocked = 0;   // 403 captcha_required / blocked
  std::uint64_t sold_out = 0;      // 410
  std::uint64_t reserved = 0;      // 201
  std::uint64_t other = 0;         // anything else (limit_exceeded, errors, no answer)
};
LayerCounts count_layers(const OutcomeTally& tally);

// From the server's /metrics text: requests released by the admission queue after waiting at
// least 1 ms (flashsale_admission_queue_wait_seconds); -1 when the histogram is absent.
std::int64_t queued_from_metrics(std::string_view metrics_text);

}  // namespace fs::crowd
