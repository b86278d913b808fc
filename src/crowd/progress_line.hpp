#pragma once
// The live progress line of a crowd run (stderr): a redrawn bar on a terminal, plain lines
// otherwise (CI logs, pipes).
#include <cstdint>
#include <string>

namespace fs::crowd {

struct ProgressSnapshot {
  std::uint64_t done = 0;
  std::uint64_t total = 0;
  double rps = 0;  // over the last refresh interval
  double elapsed_seconds = 0;
  std::uint64_t created = 0;   // 201
  std::uint64_t sold_out = 0;  // 410
  std::uint64_t conflict = 0;  // 409
  std::uint64_t other = 0;
};

// For a terminal: starts with '\r' and has no newline, so successive calls redraw one line.
// Otherwise: a complete line ending in '\n'.
std::string format_progress(const ProgressSnapshot& s, bool terminal);

}  // namespace fs::crowd
