#include "domain/shard_walk.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <set>

namespace fs {
namespace {

TEST(ShardWalk, VisitsEveryShardOnceStartingAtTheUsersShard) {
  for (int n : {1, 2, 7, 10, 256}) {
    auto walk = shard_walk("user-12345", n);
    ASSERT_EQ(walk.size(), static_cast<std::size_t>(n));
    EXPECT_EQ(walk.front(), first_shard("user-12345", n));
    std::set<int> seen(walk.begin(), walk.end());
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(n));
    for (std::size_t i = 1; i < walk.size(); ++i) EXPECT_EQ(walk[i], (walk[i - 1] + 1) % n);
  }
}

TEST(ShardWalk, HashIsStableAcrossProcesses) {
  // FNV-1a 64 reference values (computed independently); a change here would move every user.
  EXPECT_EQ(stable_hash(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(stable_hash("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(stable_hash("foobar"), 0x85944171f73967e8ULL);
}

TEST(ShardWalk, UsersSpreadOverShards) {
  std::vector<int> hits(10, 0);
  for (int u = 0; u < 10000; ++u)
    ++hits[static_cast<std::size_t>(first_shard("user-" + std::to_string(u), 10))];
  for (int h : hits) {
    EXPECT_GT(h, 800);
    EXPECT_LT(h, 1200);
  }
}

TEST(ShardWalk, SplitStockSumsExactlyAndIsEven) {
  for (std::int64_t total : {0, 1, 9, 10, 11, 100, 12345}) {
    for (int n : {1, 3, 10, 256}) {
      auto split = split_stock(total, n);
      ASSERT_EQ(split.size(), static_cast<std::size_t>(n));
      EXPECT_EQ(std::accumulate(split.begin(), split.end(), std::int64_t{0}), total);
      auto [lo, hi] = std::minmax_element(split.begin(), split.end());
      EXPECT_LE(*hi - *lo, 1);
    }
  }
}

TEST(ShardWalk, DegenerateShardCounts) {
  EXPECT_TRUE(shard_walk("u", 0).empty());
  EXPECT_EQ(first_shard("u", 1), 0);
  EXPECT_TRUE(split_stock(5, 0).empty());
}

}  // namespace
}  // namespace fs
