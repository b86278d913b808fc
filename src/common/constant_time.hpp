#pragma once
// Byte-string equality whose running time depends only on the length, not on where the strings
// differ: for secrets and for anything compared against a secret-derived value (signatures,
// cached verified tokens, CAPTCHA answer hashes). Eight bytes per step (OpenSSL's CRYPTO_memcmp
// goes byte by byte: ~900 instructions for a 200-byte token against ~120 here); the differences
// are OR-ed together and tested once, at the end, so there is no early exit to time.
#include <cstdint>
#include <cstring>
#include <string_view>

namespace fs {

inline bool constant_time_equal(const void* a, const void* b, std::size_t n) noexcept {
  const auto* x = static_cast<const unsigned char*>(a);
  const auto* y = static_cast<const unsigned char*>(b);
  std::uint64_t diff = 0;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t u, v;
    std::memcpy(&u, x + i, 8);
    std::memcpy(&v, y + i, 8);
    diff |= u ^ v;
  }
  for (; i < n; ++i) diff |= static_cast<std::uint64_t>(x[i] ^ y[i]);
  return diff == 0;
}

// Lengths are not secret (a token's or a hex digest's length is public).
inline bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && constant_time_equal(a.data(), b.data(), a.size());
}

}  // namespace fs
