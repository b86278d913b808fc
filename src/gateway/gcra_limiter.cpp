#include "gateway/gcra_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace fs::gateway {

namespace asio = boost::asio;

namespace {

// KEYS[1]: the key. ARGV: now (us), emission interval (us), burst offset = interval * burst (us).
// Returns {1, 0} when allowed, {0, microseconds until allowed} when not.
const redis::Script& gcra_script() {
  static const redis::Script script(R"lua(
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst_offset = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst_offset
if now < allow_at then
  return {0, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, 0}
)lua");
  return script;
}

}  // namespace

GcraLimiter::GcraLimiter(redis::Client& client, const Clock& clock, BucketConfig config,
                         std::string key_prefix)
    : client_(client), clock_(clock), prefix_(std::move(key_prefix)) {
  if (!(config.rate_per_second > 0) || !(config.burst >= 1)) {
    throw std::invalid_argument("GcraLimiter: rate must be > 0 and burst >= 1");
  }
  interval_us_ = static_cast<std::int64_t>(std::llround(1e6 / config.rate_per_second));
  burst_offset_us_ =
      static_cast<std::int64_t>(std::llround(1e6 / config.rate_per_second * config.burst));
}

asio::awaitable<Result<TakeResult>> GcraLimiter::try_take(std::string key) {
  const auto now_us =
      std::chrono::duration_cast<std::chrono::microseconds>(clock_.now().time_since_epoch())
          .count();
  std::vector<std::string> keys;
  keys.push_back(prefix_ + key);
  std::vector<std::string> args;
  args.push_back(std::to_string(now_us));
  args.push_back(std::to_string(interval_us_));
  args.push_back(std::to_string(burst_offset_us_));
  auto reply = co_await client_.eval(gcra_script(), std::move(keys), std::move(args));
  if (!reply) co_return std::move(reply).error();
  if (reply->type != redis::Reply::Type::array || reply->elements.size() != 2 ||
      reply->elements[0].type != redis::Reply::Type::integer ||
      reply->elements[1].type != redis::Reply::Type::integer) {
    co_return Error{Errc::protocol_error, "unexpected GCRA reply"};
  }
  if (reply->elements[0].integer == 1) co_return TakeResult{true, 0};
  const long long wait_us = reply->elements[1].integer;
  const std::int64_t seconds = (wait_us + 999'999) / 1'000'000;
  co_return TakeResult{false, std::max<std::int64_t>(1, seconds)};
}

}  // namespace fs::gateway
