// constant_time_equal: the word-at-a-time compare must find a difference in any byte, including
// the tail past the last whole 8-byte word, and never call different lengths equal.
#include "common/constant_time.hpp"

#include <gtest/gtest.h>

#include <string>

namespace fs {
namespace {

TEST(ConstantTimeEqual, EqualStringsOfEveryLengthAroundTheWordSize) {
  for (std::size_t n = 0; n <= 40; ++n) {
    std::string a(n, 'x');
    for (std::size_t i = 0; i < n; ++i) a[i] = static_cast<char>('a' + (i * 7) % 26);
    const std::string b = a;  // a separate buffer with the same bytes
    EXPECT_TRUE(constant_time_equal(a, b)) << n;
  }
}

TEST(ConstantTimeEqual, ADifferenceInAnyByteOrBitIsFound) {
  const std::string base = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.sig-of-37-bytes";
  for (std::size_t i = 0; i < base.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string other = base;
      other[i] = static_cast<char>(other[i] ^ (1 << bit));
      EXPECT_FALSE(constant_time_equal(base, other)) << "byte " << i << " bit " << bit;
      EXPECT_FALSE(constant_time_equal(base.data(), other.data(), base.size()));
    }
  }
}

TEST(ConstantTimeEqual, DifferentLengthsAreNeverEqual) {
  EXPECT_FALSE(constant_time_equal(std::string_view("abc"), std::string_view("abcd")));
  EXPECT_FALSE(constant_time_equal(std::string_view(""), std::string_view("a")));
  EXPECT_TRUE(constant_time_equal(std::string_view(""), std::string_view("")));
  // A prefix is not the whole.
  EXPECT_FALSE(constant_time_equal(std::string_view("token.payload.signature"),
                                   std::string_view("token.payload.signatur")));
}

}  // namespace
}  // namespace fs
