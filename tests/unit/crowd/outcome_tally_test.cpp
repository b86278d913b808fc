#include "crowd/outcome_tally.hpp"

#include <gtest/gtest.h>

namespace fs::crowd {
namespace {

TEST(OutcomeTally, CountsByStatusAndCode) {
  OutcomeTally t;
  t.add(201, "");
  t.add(201, "");
  t.add(410, "sold_out");
  t.add(409, "limit_exceeded");
  t.add(409, "idempotency_conflict");
  t.add(0, "unavailable");
  EXPECT_EQ(t.total(), 6u);
  EXPECT_EQ(t.count_status(201), 2u);
  EXPECT_EQ(t.count_status(409), 2u);
  EXPECT_EQ(t.count(409, "limit_exceeded"), 1u);
  EXPECT_EQ(t.count(410, "sold_out"), 1u);
  EXPECT_EQ(t.count(410, ""), 0u);
  EXPECT_EQ(t.count_status(500), 0u);
}

TEST(OutcomeTally, MergeAddsAndSortedIsStable) {
  OutcomeTally a, b;
  a.add(410, "sold_out", 5);
  a.add(201, "");
  b.add(201, "", 2);
  b.add(0, "timeout");
  b.add(409, "limit_exceeded");
  a.merge(b);
  const auto s = a.sorted();
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].status, 0);
  EXPECT_EQ(s[0].code, "timeout");
  EXPECT_EQ(s[1].status, 201);
  EXPECT_EQ(s[1].count, 3u);
  EXPECT_EQ(s[2].status, 409);
  EXPECT_EQ(s[3].status, 410);
  EXPECT_EQ(s[3].count, 5u);
  EXPECT_EQ(a.total(), 10u);
}

TEST(ErrorCodeOf, ReadsApiErrorBodies) {
  EXPECT_EQ(error_code_of(R"({"error":{"code":"sold_out","message":"no stock left"}})"),
            "sold_out");
  EXPECT_EQ(error_code_of(R"({"error":{"code":"captcha_required","captcha":{"id":"x"}}})"),
            "captcha_required");
}

TEST(ErrorCodeOf, AnythingElseIsEmpty) {
  EXPECT_EQ(error_code_of(""), "");
  EXPECT_EQ(error_code_of("<html>502 Bad Gateway</html>"), "");
  EXPECT_EQ(error_code_of(R"({"error":"sold_out"})"), "");
  EXPECT_EQ(error_code_of(R"({"error":{"code":410}})"), "");
  EXPECT_EQ(error_code_of(R"(["error"])"), "");
  EXPECT_EQ(error_code_of(R"({"error":{"code":"sold_out"})"), "");  // truncated
}

}  // namespace
}  // namespace fs::crowd
