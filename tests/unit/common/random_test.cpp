// Random's id formats, with the deterministic generator (the bytes are reproducible).
#include "common/random.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "domain/reservation.hpp"

namespace fs {
namespace {

TEST(Random, UuidV4HasTheVersionAndVariantBits) {
  SeededRandom rng(7);
  for (int i = 0; i < 100; ++i) {
    const std::string id = rng.uuid_v4();
    ASSERT_TRUE(valid_uuid(id)) << id;
    EXPECT_EQ(id[14], '4') << id;
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
  }
}

TEST(Random, UuidV7CarriesTheMillisecondAndSortsByIt) {
  SeededRandom rng(7);
  // 2026-12-03T04:00:00.123Z: 0x01a23a0f227b, the first 12 hex digits (48 bits, big-endian).
  const std::int64_t ms = 1796270400123;
  const std::string id = rng.uuid_v7(ms);
  ASSERT_TRUE(valid_uuid(id)) << id;
  char expect[16];
  std::snprintf(expect, sizeof expect, "%012llx", static_cast<unsigned long long>(ms));
  EXPECT_EQ(id.substr(0, 8) + id.substr(9, 4), std::string(expect)) << id;
  EXPECT_EQ(std::string(expect), "01a23a0f227b");
  EXPECT_EQ(id[14], '7') << id;
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;

  // Ids of later milliseconds sort after earlier ones, as text and so as PostgreSQL uuids
  // (compared bytewise); within one millisecond the order is random.
  std::vector<std::string> ids;
  for (std::int64_t t = 0; t < 200; ++t) ids.push_back(rng.uuid_v7(ms + t * 3));
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  std::vector<std::string> same;
  for (int i = 0; i < 50; ++i) same.push_back(rng.uuid_v7(ms));
  EXPECT_FALSE(std::is_sorted(same.begin(), same.end()));
  std::sort(same.begin(), same.end());
  EXPECT_EQ(std::adjacent_find(same.begin(), same.end()), same.end());  // 74 random bits each
}

}  // namespace
}  // namespace fs
