#pragma once
// Token buckets for the gateway's rate limits (api.md: 429 rate_limited with Retry-After).
// Time is a monotonic nanosecond count (Clock::steady_ns()) passed in by the caller, so tests
// drive it by hand and one clock read serves several buckets.
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace fs::gateway {

struct BucketConfig {
  double rate_per_second = 10.0;  // sustained refill rate; must be > 0
  double burst = 10.0;            // capacity; a fresh bucket is full; must be >= 1
};

struct TakeResult {
  bool allowed = false;
  // When refused: whole seconds (>= 1, rounded up) until one token is back. 0 when allowed.
  std::int64_t retry_after_seconds = 0;
};

class TokenBucket {
 public:
  TokenBucket(BucketConfig config, std::int64_t now_ns);

  TakeResult try_take(std::int64_t now_ns);
  // Tokens available at `now_ns` (refill applied, nothing taken).
  double tokens(std::int64_t now_ns) const;
  bool full(std::int64_t now_ns) const { return tokens(now_ns) >= config_.burst; }
  std::int64_t last_update_ns() const { return last_ns_; }

 private:
  BucketConfig config_;
  double tokens_;
  std::int64_t last_ns_;
};

// One bucket per key (client IP, user id). Memory is bounded by max_keys: buckets idle long
// enough to be full again carry no information and are dropped (a new bucket would be full
// too); if every tracked key is still active the least recently used one is dropped, which at
// worst hands that key a fresh burst.
//
// Not thread-safe: keep one instance per I/O thread (limits then apply per thread; with N I/O
// threads a client may get up to N x burst, which the shared GCRA limiter in Redis bounds).
class KeyedTokenBuckets {
 public:
  KeyedTokenBuckets(BucketConfig config, std::size_t max_keys);

  TakeResult try_take(std::string_view key, std::int64_t now_ns);
  // Drops buckets that are full again at `now_ns` (oldest first). try_take() calls it for
  // every new key.
  void evict_idle(std::int64_t now_ns);
  std::size_t size() const { return buckets_.size(); }
  std::size_t evicted_active() const { return evicted_active_; }

 private:
  struct Entry {
    TokenBucket bucket;
    std::list<std::string>::iterator lru_pos;
  };
  // Heterogeneous lookup so a string_view key needs no allocation on the hot path.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  BucketConfig config_;
  std::size_t max_keys_;
  std::int64_t idle_to_full_ns_;  // an untouched bucket is surely full after this long
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> buckets_;
  std::list<std::string> lru_;  // front = most recently used
  std::size_t evicted_active_ = 0;
};

}  // namespace fs::gateway
