#pragma once
// A rate limit shared by every instance: GCRA (the token bucket expressed as one timestamp, the
// "theoretical arrival time") in one atomic Lua script, one Redis key per limited key.
// The per-thread KeyedTokenBuckets stop floods cheaply; this one enforces the global budget.
#include <boost/asio/awaitable.hpp>
#include <string>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "gateway/token_bucket.hpp"
#include "redis/redis_client.hpp"

namespace fs::gateway {

class GcraLimiter {
 public:
  // Time comes from `clock` (wall clock, microseconds), not from Redis' TIME, so tests can drive
  // it; instances' clocks must agree to well under one emission interval (NTP does).
  GcraLimiter(redis::Client& client, const Clock& clock, BucketConfig config,
              std::string key_prefix = "fs:gcra:");

  // Errors are the client's (unavailable, timeout, ...): the caller picks fail-open or closed.
  boost::asio::awaitable<Result<TakeResult>> try_take(std::string key);

 private:
  redis::Client& client_;
  const Clock& clock_;
  std::int64_t interval_us_;
  std::int64_t burst_offset_us_;
  std::string prefix_;
};

}  // namespace fs::gateway
