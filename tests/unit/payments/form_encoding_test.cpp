#include "payments/form_encoding.hpp"

#include <gtest/gtest.h>

namespace fs::payments {
namespace {

TEST(FormEncoding, EncodesReservedCharactersAndKeepsUnreserved) {
  FormFields fields;
  fields.emplace_back("amount", "1999");
  fields.emplace_back("metadata[reservation_id]", "r 1&x=y/ü");
  EXPECT_EQ(encode_form(fields), "amount=1999&metadata%5Breservation_id%5D=r%201%26x%3Dy%2F%C3%BC");
  EXPECT_EQ(percent_encode("AZaz09-_.~"), "AZaz09-_.~");
}

TEST(FormEncoding, DecodeInvertsEncodeAndAcceptsPlusAsSpace) {
  FormFields fields;
  fields.emplace_back("a b", "c&d=e%");
  fields.emplace_back("empty", "");
  auto decoded = decode_form(encode_form(fields));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, fields);
  auto plus = decode_form("name=John+Doe&flag");
  ASSERT_TRUE(plus);
  EXPECT_EQ(form_value(*plus, "name"), "John Doe");
  EXPECT_EQ(form_value(*plus, "flag"), "");
  EXPECT_EQ(form_value(*plus, "missing"), std::nullopt);
}

TEST(FormEncoding, RejectsMalformedEscapes) {
  EXPECT_FALSE(decode_form("a=%4"));
  EXPECT_FALSE(decode_form("a=%zz"));
  EXPECT_FALSE(percent_decode("%"));
  EXPECT_EQ(percent_decode("%41%42"), "AB");
}

}  // namespace
}  // namespace fs::payments
