#include "domain/time_format.hpp"

#include <cstdio>
#include <ctime>

namespace fs {
namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

// Days from civil date (Howard Hinnant's algorithm), valid for the proleptic Gregorian calendar.
long long days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const long long era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long long>(doe) - 719468;
}

std::optional<SysTime> parse_impl(std::string_view s, char date_time_sep, bool pg) {
  int Y, M, D, h, m, sec;
  if (!digits(s, 0, 4, Y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, M) || s[7] != '-' ||
      !digits(s, 8, 2, D) || (s[10] != date_time_sep && !(date_time_sep == 'T' && s[10] == 't')) ||
      !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, m) || s[16] != ':' ||
      !digits(s, 17, 2, sec))
    return std::nullopt;
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return std::nullopt;
  std::size_t pos = 19;
  long long micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 6) micros = micros * 10 + (s[pos] - '0');
      ++n;
      ++pos;
    }
    if (n == 0) return std::nullopt;
    for (int i = n; i < 6; ++i) micros *= 10;
  }
  long long offset_s = 0;
  if (pos >= s.size()) return std::nullopt;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int sign = s[pos] == '-' ? -1 : 1;
    int oh = 0, om = 0;
    if (!digits(s, pos + 1, 2, oh)) return std::nullopt;
    pos += 3;
    if (pos < s.size() && s[pos] == ':') {
      if (!digits(s, pos + 1, 2, om)) return std::nullopt;
      pos += 3;
    } else if (!pg) {
      return std::nullopt;
    }
    offset_s = sign * (oh * 3600LL + om * 60LL);
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  long long days = days_from_civil(Y, static_cast<unsigned>(M), static_cast<unsigned>(D));
  long long secs = days * 86400 + h * 3600LL + m * 60LL + sec - offset_s;
  // SysTime counts nanoseconds in 64 bits (years 1678-2262): a later date (RFC 3339 allows up to
  // 9999) would overflow the conversion, undefined behaviour that UBSan caught in the fuzz run.
  constexpr long long kLimit =
      std::chrono::duration_cast<std::chrono::seconds>(SysTime::duration::max()).count() - 1;
  if (secs > kLimit || secs < -kLimit) return std::nullopt;
  return SysTime{std::chrono::duration_cast<SysTime::duration>(std::chrono::seconds{secs} +
                                                               std::chrono::microseconds{micros})};
}

}  // namespace

std::string format_rfc3339(SysTime t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  long long secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int frac = static_cast<int>(ms - secs * 1000);
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

std::optional<SysTime> parse_rfc3339(std::string_view s) { return parse_impl(s, 'T', false); }

std::optional<SysTime> parse_pg_timestamp(std::string_view s) { return parse_impl(s, ' ', true); }

}  // namespace fs
