#include "gateway/token_bucket.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace fs::gateway {
namespace {
constexpr double kNsPerSecond = 1e9;
// Absorbs floating-point dust so that e.g. exactly 2 s of waiting is reported as 2, not 3.
constexpr double kEpsilon = 1e-9;
}  // namespace

TokenBucket::TokenBucket(BucketConfig config, std::int64_t now_ns)
    : config_(config), tokens_(config.burst), last_ns_(now_ns) {
  if (!(config.rate_per_second > 0) || !(config.burst >= 1)) {
    throw std::invalid_argument("TokenBucket: rate must be > 0 and burst >= 1");
  }
}

double TokenBucket::tokens(std::int64_t now_ns) const {
  const auto elapsed = std::max<std::int64_t>(0, now_ns - last_ns_);
  return std::min(config_.burst,
                  tokens_ + static_cast<double>(elapsed) * config_.rate_per_second / kNsPerSecond);
}

TakeResult TokenBucket::try_take(std::int64_t now_ns) {
  tokens_ = tokens(now_ns);
  last_ns_ = std::max(last_ns_, now_ns);
  if (tokens_ >= 1.0 - kEpsilon) {
    tokens_ = std::max(0.0, tokens_ - 1.0);
    return {true, 0};
  }
  const double wait_s = (1.0 - tokens_) / config_.rate_per_second;
  const auto retry = static_cast<std::int64_t>(std::ceil(wait_s - kEpsilon));
  return {false, std::max<std::int64_t>(1, retry)};
}

KeyedTokenBuckets::KeyedTokenBuckets(BucketConfig config, std::size_t max_keys)
    : config_(config),
      max_keys_(std::max<std::size_t>(1, max_keys)),
      idle_to_full_ns_(static_cast<std::int64_t>(
          std::ceil(config.burst / config.rate_per_second * kNsPerSecond))) {
  TokenBucket probe(config, 0);  // validates the config
  (void)probe;
}

void KeyedTokenBuckets::evict_idle(std::int64_t now_ns) {
  // The LRU tail holds the buckets touched longest ago; those idle for burst/rate are full.
  while (!lru_.empty()) {
    auto it = buckets_.find(lru_.back());
    if (now_ns - it->second.bucket.last_update_ns() < idle_to_full_ns_ &&
        !it->second.bucket.full(now_ns)) {
      break;
    }
    buckets_.erase(it);
    lru_.pop_back();
  }
}

TakeResult KeyedTokenBuckets::try_take(std::string_view key, std::int64_t now_ns) {
  auto it = buckets_.find(key);
  if (it != buckets_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru_pos);
    return it->second.bucket.try_take(now_ns);
  }
  // Sweeping on every new key keeps memory near the active set; it stops at the first
  // bucket still refilling, so it costs O(1) amortized.
  evict_idle(now_ns);
  if (buckets_.size() >= max_keys_) {
    buckets_.erase(lru_.back());
    lru_.pop_back();
    ++evicted_active_;
  }
  lru_.emplace_front(key);
  auto [pos, inserted] =
      buckets_.emplace(lru_.front(), Entry{TokenBucket(config_, now_ns), lru_.begin()});
  (void)inserted;
  return pos->second.bucket.try_take(now_ns);
}

}  // namespace fs::gateway
