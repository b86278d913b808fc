#pragma once
// An integer's decimal digits appended to a string (the inverse of parse_int.hpp), without the
// temporary string std::to_string makes: response heads, JSON views, PostgreSQL array literals.
#include <charconv>
#include <concepts>
#include <string>

namespace fs {

template <std::integral T>
void append_decimal(std::string& out, T value) {
  char digits[24];  // any 64-bit value with its sign
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, end);
}

}  // namespace fs
