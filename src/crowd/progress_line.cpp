#include "crowd/progress_line.hpp"

#include <algorithm>
#include <cstdio>

namespace fs::crowd {

std::string format_progress(const ProgressSnapshot& s, bool terminal) {
  const double fraction =
      s.total == 0 ? 1.0
                   : std::min(1.0, static_cast<double>(s.done) / static_cast<double>(s.total));
  char counts[160];
  std::snprintf(counts, sizeof counts,
                "%llu/%llu (%5.1f%%) %8.0f req/s | 201:%llu 410:%llu 409:%llu other:%llu",
                static_cast<unsigned long long>(s.done), static_cast<unsigned long long>(s.total),
                fraction * 100.0, s.rps, static_cast<unsigned long long>(s.created),
                static_cast<unsigned long long>(s.sold_out),
                static_cast<unsigned long long>(s.conflict),
                static_cast<unsigned long long>(s.other));
  std::string line;
  if (terminal) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    line = "\r[";
    line.append(static_cast<std::size_t>(filled), '#');
    line.append(static_cast<std::size_t>(kWidth - filled), '.');
    line += "] ";
    line += counts;
    line += "\x1b[K";  // erase leftovers of a longer previous line
  } else {
    char prefix[32];
    std::snprintf(prefix, sizeof prefix, "[crowd %6.1fs] ", s.elapsed_seconds);
    line = prefix;
    line += counts;
    line += '\n';
  }
  return line;
}

}  // namespace fs::crowd
