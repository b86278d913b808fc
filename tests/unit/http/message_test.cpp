#include "http/message.hpp"

#include <gtest/gtest.h>

namespace fs::http {
namespace {

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
