#include "domain/time_format.hpp"

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

void append_rfc3339(std::string& out, SysTime t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const long long secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  const auto frac = static_cast<unsigned>(ms - secs * 1000);
  const long long days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  const auto day_secs = static_cast<unsigned>(secs - days * 86400);
  // Civil date from days (Howard Hinnant's algorithm, the inverse of days_from_civil): gmtime_r
  // and snprintf cost ~3,500 instructions per timestamp, and a 201 formats four.
  const long long z = days + 719468;
  const long long era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  const long long year = static_cast<long long>(yoe) + era * 400 + (month <= 2 ? 1 : 0);
  // SysTime spans the years 1677-2262: always four digits.
  const auto y = static_cast<unsigned>(year);
  char buf[24];
  auto two = [&buf](std::size_t at, unsigned v) {
    buf[at] = static_cast<char>('0' + v / 10);
    buf[at + 1] = static_cast<char>('0' + v % 10);
  };
  two(0, y / 100);
  two(2, y % 100);
  buf[4] = '-';
  two(5, month);
  buf[7] = '-';
  two(8, day);
  buf[10] = 'T';
  two(11, day_secs / 3600);
  buf[13] = ':';
  two(14, day_secs / 60 % 60);
  buf[16] = ':';
  two(17, day_secs % 60);
  buf[19] = '.';
  buf[20] = static_cast<char>('0' + frac / 100);
  two(21, frac % 100);
  buf[23] = 'Z';
  out.append(buf, sizeof buf);
}

std::string format_rfc3339(SysTime t) {
  std::string out;
  append_rfc3339(out, t);
  return out;
}

std::optional<SysTime> parse_rfc3339(std::string_view s) { return parse_impl(s, 'T', false); }

std::optional<SysTime> parse_pg_timestamp(std::string_view s) { return parse_impl(s, ' ', true); }

}  // namespace fs
