#pragma once
// KeyedTokenBuckets shared by every I/O thread of the process: the keys are spread over
// independently locked stripes, so two threads contend only when their keys hash alike and a
// client gets exactly its configured budget whichever thread serves each of its connections.
#include <array>
#include <memory>
#include <mutex>
#include <string_view>

#include "gateway/token_bucket.hpp"

namespace fs::gateway {

class SharedTokenBuckets {
 public:
  SharedTokenBuckets(BucketConfig config, std::size_t max_keys);
  TakeResult try_take(std::string_view key, std::int64_t now_ns);
  std::size_t size() const;

 private:
  static constexpr std::size_t kStripes = 64;
  struct alignas(64) Stripe {
    explicit Stripe(BucketConfig config, std::size_t max_keys) : buckets(config, max_keys) {}
    mutable std::mutex mutex;
    KeyedTokenBuckets buckets;
  };
  std::array<std::unique_ptr<Stripe>, kStripes> stripes_;
};

}  // namespace fs::gateway
