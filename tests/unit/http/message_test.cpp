#include "http/message.hpp"

#include <gtest/gtest.h>

namespace fs::http {
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

TEST(ResponseTest, ErrorBodyShape) {
  auto r = Response::error(409, "invalid_state", R"(reservation is "PAID")");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"error":{"code":"invalid_state","message":"reservation is \"PAID\""}})");
}

TEST(ResponseTest, JsonAndWithHeader) {
  auto r = Response::json(201, R"({"ok":true})");
  r.with_header("retry-after", "1").with_header("x-a", "b");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, R"({"ok":true})");
  ASSERT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.headers[0].name, "retry-after");
  EXPECT_EQ(r.headers[1].value, "b");
}

TEST(RequestTest, HeaderLookup) {
  Request req;
  req.headers = {{"content-type", "application/json"}, {"x-dup", "1"}, {"x-dup", "2"}};
  EXPECT_EQ(req.header("content-type"), "application/json");
  EXPECT_EQ(req.header("Content-Type"), "application/json");
  EXPECT_EQ(req.header("x-dup"), "1");
  EXPECT_TRUE(req.has_header("x-dup"));
  EXPECT_FALSE(req.has_header("authorization"));
  EXPECT_EQ(req.header("authorization"), "");
}

}  // namespace
}  // namespace fs::http
