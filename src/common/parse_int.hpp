#pragma once
// Strict integer parsing for text from backends (PostgreSQL text format, Redis replies):
// the whole string must be a number in range.
#include <charconv>
#include <string_view>

namespace fs {

template <class Int>
bool parse_int(std::string_view s, Int& out) noexcept {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

}  // namespace fs
