#include "gateway/token_bucket.hpp"

#include <gtest/gtest.h>

#include <string>

namespace fs::gateway {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kMs = 1'000'000;

TEST(TokenBucket, AllowsBurstThenRefuses) {
  TokenBucket bucket({.rate_per_second = 1, .burst = 5}, 0);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(bucket.try_take(0).allowed) << i;
  auto refused = bucket.try_take(0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_seconds, 1);
}

TEST(TokenBucket, RefillsAtTheConfiguredRate) {
  TokenBucket bucket({.rate_per_second = 2, .burst = 2}, 0);
  EXPECT_TRUE(bucket.try_take(0).allowed);
  EXPECT_TRUE(bucket.try_take(0).allowed);
  EXPECT_FALSE(bucket.try_take(0).allowed);
  EXPECT_FALSE(bucket.try_take(499 * kMs).allowed);
  EXPECT_TRUE(bucket.try_take(500 * kMs).allowed);
  EXPECT_FALSE(bucket.try_take(500 * kMs).allowed);
  // Long idle refills to the burst, not beyond.
  EXPECT_DOUBLE_EQ(bucket.tokens(100 * kSecond), 2.0);
  EXPECT_TRUE(bucket.full(100 * kSecond));
  EXPECT_TRUE(bucket.try_take(100 * kSecond).allowed);
  EXPECT_TRUE(bucket.try_take(100 * kSecond).allowed);
  EXPECT_FALSE(bucket.try_take(100 * kSecond).allowed);
}

TEST(TokenBucket, RetryAfterIsRoundedUpToWholeSeconds) {
  // 0.2 tokens/s: an empty bucket needs 5 s for one token.
  TokenBucket slow({.rate_per_second = 0.2, .burst = 1}, 0);
  EXPECT_TRUE(slow.try_take(0).allowed);
  EXPECT_EQ(slow.try_take(0).retry_after_seconds, 5);
  EXPECT_EQ(slow.try_take(1 * kSecond).retry_after_seconds, 4);
  EXPECT_EQ(slow.try_take(1 * kSecond + 1).retry_after_seconds, 4);  // 3.99.. -> 4
  EXPECT_EQ(slow.try_take(4 * kSecond).retry_after_seconds, 1);
  EXPECT_EQ(slow.try_take(4 * kSecond + 999 * kMs).retry_after_seconds, 1);  // never 0
  EXPECT_TRUE(slow.try_take(5 * kSecond).allowed);

  // Fast rates still say at least 1 second.
  TokenBucket fast({.rate_per_second = 1000, .burst = 1}, 0);
  EXPECT_TRUE(fast.try_take(0).allowed);
  auto refused = fast.try_take(0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_seconds, 1);

  // 0.5/s: 2 s exactly, not 3 from floating-point dust.
  TokenBucket half({.rate_per_second = 0.5, .burst = 1}, 0);
  EXPECT_TRUE(half.try_take(0).allowed);
  EXPECT_EQ(half.try_take(0).retry_after_seconds, 2);
  EXPECT_EQ(half.try_take(500 * kMs).retry_after_seconds, 2);  // 1.5 s -> 2
}

TEST(TokenBucket, AllowedHasNoRetryAfter) {
  TokenBucket bucket({.rate_per_second = 1, .burst = 1}, 0);
  EXPECT_EQ(bucket.try_take(0).retry_after_seconds, 0);
}

TEST(TokenBucket, ClockGoingBackwardsDoesNotMintTokens) {
  TokenBucket bucket({.rate_per_second = 1, .burst = 1}, 10 * kSecond);
  EXPECT_TRUE(bucket.try_take(10 * kSecond).allowed);
  EXPECT_FALSE(bucket.try_take(5 * kSecond).allowed);
  EXPECT_FALSE(bucket.try_take(10 * kSecond).allowed);
  EXPECT_TRUE(bucket.try_take(11 * kSecond).allowed);
}

TEST(TokenBucket, RejectsNonsenseConfig) {
  EXPECT_THROW(TokenBucket({.rate_per_second = 0, .burst = 1}, 0), std::invalid_argument);
  EXPECT_THROW(TokenBucket({.rate_per_second = 1, .burst = 0.5}, 0), std::invalid_argument);
}

TEST(KeyedTokenBuckets, KeysHaveIndependentBudgets) {
  KeyedTokenBuckets buckets({.rate_per_second = 1, .burst = 2}, 100);
  EXPECT_TRUE(buckets.try_take("10.0.0.1", 0).allowed);
  EXPECT_TRUE(buckets.try_take("10.0.0.1", 0).allowed);
  EXPECT_FALSE(buckets.try_take("10.0.0.1", 0).allowed);
  EXPECT_TRUE(buckets.try_take("10.0.0.2", 0).allowed);
  EXPECT_TRUE(buckets.try_take("10.0.0.2", 0).allowed);
  EXPECT_FALSE(buckets.try_take("10.0.0.2", 0).allowed);
  EXPECT_EQ(buckets.size(), 2u);
}

TEST(KeyedTokenBuckets, EvictsBucketsThatAreFullAgain) {
  KeyedTokenBuckets buckets({.rate_per_second = 1, .burst = 2}, 100);
  EXPECT_TRUE(buckets.try_take("a", 0).allowed);
  EXPECT_TRUE(buckets.try_take("a", 0).allowed);
  EXPECT_TRUE(buckets.try_take("b", 1500 * kMs).allowed);
  EXPECT_EQ(buckets.size(), 2u);
  // At 2 s, "a" is full (0 tokens + 2 s * 1/s); "b" has 1.5 tokens.
  buckets.evict_idle(2 * kSecond);
  EXPECT_EQ(buckets.size(), 1u);
  buckets.evict_idle(3 * kSecond);
  EXPECT_EQ(buckets.size(), 0u);
  EXPECT_EQ(buckets.evicted_active(), 0u);
}

TEST(KeyedTokenBuckets, NewKeysSweepIdleOnes) {
  KeyedTokenBuckets buckets({.rate_per_second = 10, .burst = 10}, 1000);
  for (int i = 0; i < 500; ++i) (void)buckets.try_take("k" + std::to_string(i), 0);
  EXPECT_EQ(buckets.size(), 500u);
  // 1 s later every old bucket is full again; one new key sweeps them all.
  (void)buckets.try_take("fresh", 1 * kSecond);
  EXPECT_EQ(buckets.size(), 1u);
}

TEST(KeyedTokenBuckets, MemoryStaysBoundedUnderManyActiveKeys) {
  KeyedTokenBuckets buckets({.rate_per_second = 1, .burst = 1}, 1000);
  for (int i = 0; i < 100'000; ++i) {
    EXPECT_TRUE(buckets.try_take("ip" + std::to_string(i), i).allowed);
    ASSERT_LE(buckets.size(), 1000u);
  }
  EXPECT_EQ(buckets.size(), 1000u);
  EXPECT_EQ(buckets.evicted_active(), 99'000u);
  // The most recent keys are still limited.
  EXPECT_FALSE(buckets.try_take("ip99999", 100'000).allowed);
}

TEST(KeyedTokenBuckets, RecentlyUsedKeysSurviveEviction) {
  KeyedTokenBuckets buckets({.rate_per_second = 1, .burst = 1}, 2);
  EXPECT_TRUE(buckets.try_take("hot", 0).allowed);
  EXPECT_TRUE(buckets.try_take("cold", 0).allowed);
  EXPECT_FALSE(buckets.try_take("hot", 1).allowed);  // touches "hot"
  EXPECT_TRUE(buckets.try_take("new", 2).allowed);   // evicts "cold", the LRU
  EXPECT_FALSE(buckets.try_take("hot", 3).allowed);  // still tracked, still empty
  EXPECT_EQ(buckets.size(), 2u);
}

}  // namespace
}  // namespace fs::gateway
