#include "domain/time_format.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <random>

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

// What format_rfc3339 wrote before it computed the date itself: the C library's calendar.
std::string libc_rfc3339(long long ms) {
  long long secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  const int frac = static_cast<int>(ms - secs * 1000);
  const auto tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

TEST(TimeFormat, FormatsEveryInstantAsTheCLibraryCalendar) {
  // Edges: the epoch and the millisecond before it, leap days (2000 is a leap year, 1900 and
  // 2100 are not), the ends of years and of the clock's range.
  for (long long ms :
       {0LL, -1LL, -1000LL, -1001LL, 999LL, 951'782'400'000LL, 951'868'799'999LL,
        -2'203'891'200'000LL, 4'107'542'400'000LL, 4'133'894'400'000LL, 1'767'225'599'999LL,
        1'767'225'600'000LL, 9'214'646'400'000LL, -9'214'560'000'000LL})
    EXPECT_EQ(format_rfc3339(SysTime{std::chrono::milliseconds{ms}}), libc_rfc3339(ms)) << ms;
  std::mt19937_64 rng(20261203);
  std::uniform_int_distribution<long long> any(-9'214'560'000'000LL, 9'214'646'400'000LL);
  for (int i = 0; i < 200'000; ++i) {
    const long long ms = any(rng);
    ASSERT_EQ(format_rfc3339(SysTime{std::chrono::milliseconds{ms}}), libc_rfc3339(ms)) << ms;
  }
  std::string out = "at ";
  append_rfc3339(out, SysTime{std::chrono::milliseconds{1'764'000'000'123}});
  EXPECT_EQ(out, "at 2025-11-24T16:00:00.123Z");
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
