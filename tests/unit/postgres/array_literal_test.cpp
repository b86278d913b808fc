#include "postgres/array_literal.hpp"

#include <gtest/gtest.h>

namespace fs::pg {
namespace {

TEST(ArrayLiteral, QuotesEveryElementAndEscapes) {
  EXPECT_EQ(array_literal({}), "{}");
  EXPECT_EQ(array_literal({std::string("a"), std::nullopt, std::string("b c")}),
            "{\"a\",NULL,\"b c\"}");
  EXPECT_EQ(array_literal({std::string("q\"uo\\te,{}")}), "{\"q\\\"uo\\\\te,{}\"}");
}

TEST(ArrayLiteral, MixesNumbersTextAndNullsAndEscapesAtTheEdges) {
  ArrayLiteral a;
  a.add(std::int64_t{-42});
  a.add(std::string_view(""));
  a.add(std::string_view("\"\\"));   // only specials
  a.add(std::string_view("\"x\""));  // specials first and last
  a.add_or_null(std::nullopt);
  a.add_or_null(std::string("{\"k\":1}"));
  a.add(std::int64_t{9'223'372'036'854'775'807});
  a.add_null();
  EXPECT_EQ(std::move(a).take(),
            R"({-42,"","\"\\","\"x\"",NULL,"{\"k\":1}",9223372036854775807,NULL})");
  EXPECT_EQ(ArrayLiteral(64).take(), "{}");
}

}  // namespace
}  // namespace fs::pg
