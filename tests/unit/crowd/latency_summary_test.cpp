#include "crowd/latency_summary.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

namespace fs::crowd {
namespace {

TEST(LatencySummary, EmptyIsAllZero) {
  std::vector<std::uint32_t> none;
  const auto s = summarize_latencies(none);
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.p50, 0u);
  EXPECT_EQ(s.max, 0u);
  EXPECT_EQ(s.mean, 0.0);
}

TEST(LatencySummary, SingleSampleIsEveryPercentile) {
  std::vector<std::uint32_t> one{42};
  const auto s = summarize_latencies(one);
  EXPECT_EQ(s.count, 1u);
  EXPECT_EQ(s.min, 42u);
  EXPECT_EQ(s.p50, 42u);
  EXPECT_EQ(s.p999, 42u);
  EXPECT_EQ(s.max, 42u);
  EXPECT_DOUBLE_EQ(s.mean, 42.0);
}

TEST(LatencySummary, NearestRankOnOneToThousandShuffled) {
  // 1..1000: the nearest-rank p-th percentile is exactly p*10 (p99.9 = 999), whatever the order.
  std::vector<std::uint32_t> v(1000);
  std::iota(v.begin(), v.end(), 1u);
  std::mt19937 rng(7);
  std::shuffle(v.begin(), v.end(), rng);
  const auto s = summarize_latencies(v);
  EXPECT_EQ(s.count, 1000u);
  EXPECT_EQ(s.min, 1u);
  EXPECT_EQ(s.p50, 500u);
  EXPECT_EQ(s.p90, 900u);
  EXPECT_EQ(s.p99, 990u);
  EXPECT_EQ(s.p999, 999u);
  EXPECT_EQ(s.max, 1000u);
  EXPECT_DOUBLE_EQ(s.mean, 500.5);
  EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
}

TEST(LatencySummary, TailIsExactNotEstimated) {
  // 9990 fast requests and 10 slow ones: p99 must still be fast, p99.9 must see the tail.
  std::vector<std::uint32_t> v(9990, 100);
  v.insert(v.end(), 10, 50'000);
  const auto s = summarize_latencies(v);
  EXPECT_EQ(s.p99, 100u);
  EXPECT_EQ(s.p999, 100u);  // rank ceil(0.999 * 10000) = 9990, the last fast sample
  v.push_back(60'000);      // now 10001 samples: rank 9991 is slow
  const auto s2 = summarize_latencies(v);
  EXPECT_EQ(s2.p999, 50'000u);
  EXPECT_EQ(s2.max, 60'000u);
}

TEST(LatencySummary, PercentileRanksRoundUp) {
  const std::vector<std::uint32_t> v{10, 20, 30};
  EXPECT_EQ(percentile_per_mille(v, 0), 10u);
  EXPECT_EQ(percentile_per_mille(v, 333), 10u);  // ceil(0.999) = 1
  EXPECT_EQ(percentile_per_mille(v, 334), 20u);  // ceil(1.002) = 2
  EXPECT_EQ(percentile_per_mille(v, 500), 20u);
  EXPECT_EQ(percentile_per_mille(v, 1000), 30u);
}

}  // namespace
}  // namespace fs::crowd
