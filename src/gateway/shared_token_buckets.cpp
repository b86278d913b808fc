#include "gateway/shared_token_buckets.hpp"

#include <functional>

namespace fs::gateway {

SharedTokenBuckets::SharedTokenBuckets(BucketConfig config, std::size_t max_keys) {
  const std::size_t per_stripe = std::max<std::size_t>(1, max_keys / kStripes);
  for (auto& s : stripes_) s = std::make_unique<Stripe>(config, per_stripe);
}

TakeResult SharedTokenBuckets::try_take(std::string_view key, std::int64_t now_ns) {
  Stripe& s = *stripes_[std::hash<std::string_view>{}(key) % kStripes];
  std::lock_guard lock(s.mutex);
  return s.buckets.try_take(key, now_ns);
}

std::size_t SharedTokenBuckets::size() const {
  std::size_t n = 0;
  for (const auto& s : stripes_) {
    std::lock_guard lock(s->mutex);
    n += s->buckets.size();
  }
  return n;
}

}  // namespace fs::gateway
