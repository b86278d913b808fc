#include "common/json_escape.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <random>

namespace fs {
namespace {

TEST(JsonEscape, PlainTextUnchanged) { EXPECT_EQ(json_escape("hello world"), "hello world"); }

TEST(JsonEscape, QuotesBackslashesAndControls) {
  EXPECT_EQ(json_escape(R"(a"b\c)"), R"(a\"b\\c)");
  EXPECT_EQ(json_escape("l1\nl2\r\t"), R"(l1\nl2\r\t)");
  EXPECT_EQ(json_escape(std::string_view("\x01\x1f", 2)), R"(\u0001\u001f)");
  EXPECT_EQ(json_escape(std::string_view("a\0b", 3)), R"(a\u0000b)");
}

TEST(JsonEscape, EscapesAtTheEdgesAndInRowsAppendedAfterWhatIsThere) {
  EXPECT_EQ(json_escape("\"x\""), R"(\"x\")");
  EXPECT_EQ(json_escape("\b\f\\\n"), R"(\b\f\\\n)");
  EXPECT_EQ(json_escape(""), "");
  std::string out = "prefix:";
  append_json_escaped(out, "a\tb");
  append_json_escaped(out, "");
  append_json_escaped(out, "\x7f\"");
  EXPECT_EQ(out, "prefix:a\\tb\x7f\\\"");
}

TEST(JsonEscape, Utf8PassesThrough) {
  EXPECT_EQ(json_escape("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");
}

// Hand-built bodies (reservation views, error bodies) must read exactly as Boost.JSON would
// have serialized them: every byte value, alone and in random runs, escapes the same way.
TEST(JsonEscape, EscapesEveryByteAsBoostJsonSerializes) {
  auto serialized = [](std::string_view s) {
    const std::string quoted = boost::json::serialize(boost::json::value(boost::json::string(s)));
    return quoted.substr(1, quoted.size() - 2);
  };
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const std::string s = std::string("x") + c + "y";
    EXPECT_EQ(json_escape(s), serialized(s)) << "byte " << b;
  }
  std::mt19937 rng(20261203);
  std::uniform_int_distribution<int> len(0, 40), byte(0, 255);
  for (int i = 0; i < 2000; ++i) {
    std::string s(static_cast<std::size_t>(len(rng)), '\0');
    for (auto& c : s) c = static_cast<char>(byte(rng));
    ASSERT_EQ(json_escape(s), serialized(s)) << "case " << i;
  }
}

}  // namespace
}  // namespace fs
