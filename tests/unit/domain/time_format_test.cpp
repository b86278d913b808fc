#include "domain/time_format.hpp"

#include <gtest/gtest.h>

namespace fs {
namespace {

TEST(TimeFormat, RoundTripsMilliseconds) {
  SysTime t{std::chrono::milliseconds{1'764'000'000'123}};
  auto s = format_rfc3339(t);
  EXPECT_EQ(s, "2025-11-24T16:00:00.123Z");
  auto back = parse_rfc3339(s);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, t);
}

TEST(TimeFormat, ParsesOffsetsAndRejectsJunk) {
  auto a = parse_rfc3339("2026-11-24T12:00:00+02:00");
  auto b = parse_rfc3339("2026-11-24T10:00:00Z");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  for (const char* bad :
       {"", "2026-11-24", "2026-11-24T12:00:00", "2026-13-01T00:00:00Z", "2026-11-24T25:00:00Z",
        "2026-11-24T12:00:00.Z", "tomorrow", "2026-11-24T12:00:00Zjunk"})
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
}

TEST(TimeFormat, RejectsTimesOutsideTheClocksRange) {
  // Valid RFC 3339, but past what 64-bit nanoseconds hold (found by tests/fuzz under UBSan).
  EXPECT_FALSE(parse_rfc3339("9999-12-31T23:59:59Z"));
  EXPECT_FALSE(parse_rfc3339("0001-01-01T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2263-01-01T00:00:00Z"));
  auto near_end = parse_rfc3339("2262-01-01T00:00:00Z");
  ASSERT_TRUE(near_end);
  EXPECT_EQ(format_rfc3339(*near_end), "2262-01-01T00:00:00.000Z");
}

TEST(TimeFormat, ParsesPostgresOutput) {
  auto t = parse_pg_timestamp("2026-11-24 10:00:00.5+00");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_rfc3339(*t), "2026-11-24T10:00:00.500Z");
}

}  // namespace
}  // namespace fs
