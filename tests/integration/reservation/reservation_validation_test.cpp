// Every 4xx of api.md that the hot path touches, each with a hostile example; the server stays
// up and nothing is reserved by a rejected request.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "domain/jwt.hpp"
#include "support/sale_fixture.hpp"
#include "support/servers.hpp"

namespace fs::test {
namespace {

std::string code_of(const http::ClientResponse& r) {
  auto v = boost::json::parse(r.body);
  return std::string(v.as_object().at("error").as_object().at("code").as_string());
}

class Hostile : public ::testing::Test {
 protected:
  void SetUp() override {
    product_ = unique_name("hostile");
    shared_service().put_product(product_, 10, 2, 1);
  }
  http::ClientResponse post(const std::string& body, const std::string& token,
                            std::vector<http::Header> headers = {}) {
    return send_one(shared_service().port(),
                    {"POST", "/v1/reservations", token, body, std::move(headers)});
  }
  void expect_error(const http::ClientResponse& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    if (r.status == status) {
      EXPECT_EQ(code_of(r), code);
    }
  }
  void TearDown() override {
    // Nothing a hostile request did took stock.
    auto s = shared_service().stats(product_);
    EXPECT_EQ(s.available + s.pending, 10);
    EXPECT_EQ(send_one(shared_service().port(), {"GET", "/healthz", "", "", {}}).status, 200);
  }
  std::string product_;
};

TEST_F(Hostile, MalformedJsonAndWrongTypes) {
  auto t = user_token("h1");
  for (const std::string body :
       {"",
        "{",
        "not json",
        "[]",
        "null",
        "\"x\"",
        R"({"product_id":)",
        R"({"product_id":42})",
        R"({"product_id":null})",
        R"({"quantity":1})",
        R"({"product_id":"a b"})",
        R"({"product_id":"x","quantity":"1"})",
        R"({"product_id":"x","quantity":1.5})",
        R"({"product_id":"x","quantity":true})",
        R"({"product_id":"x","quantity":99999999999999999999999})",
        R"({"product_id":"x","quantity":-1})",
        R"({"product_id":"x","quantity":0})",
        R"({"product_id":"x","quantity":1001})",
        R"({"product_id":"x","payment_method":"pm card"})",
        R"({"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]})"}) {
    auto r = post(body, t);
    expect_error(r, 400, "invalid_request");
  }
  auto huge_id = post(reservation_body(std::string(65, 'a')), t);
  expect_error(huge_id, 400, "invalid_request");
}

TEST_F(Hostile, OversizedBodyIs413AndTheServerStaysUp) {
  std::string big = R"({"product_id":")" + std::string(1 << 20, 'a') + R"("})";
  auto r = post(big, user_token("h2"));
  expect_error(r, 413, "payload_too_large");
}

TEST_F(Hostile, UnknownProductIs404) {
  auto r = post(reservation_body("no-such-product"), user_token("h3"));
  expect_error(r, 404, "not_found");
  auto g = send_one(shared_service().port(), {"GET", "/v1/products/no-such-product", "", "", {}});
  expect_error(g, 404, "not_found");
  auto res = send_one(shared_service().port(),
                      {"GET", "/v1/reservations/not-a-uuid", user_token("h3"), "", {}});
  expect_error(res, 404, "not_found");
  auto res2 = send_one(
      shared_service().port(),
      {"GET", "/v1/reservations/00000000-0000-4000-8000-000000000000", user_token("h3"), "", {}});
  expect_error(res2, 404, "not_found");
}

TEST_F(Hostile, BadTokensAre401) {
  auto body = reservation_body(product_);
  expect_error(post(body, ""), 401, "unauthorized");
  expect_error(post(body, "garbage"), 401, "unauthorized");
  auth::Claims expired;
  expired.sub = "h4";
  expired.exp = 1000;  // 1970
  expect_error(post(body, auth::sign_jwt(expired, kSecret)), 401, "unauthorized");
  auth::Claims forged;
  forged.sub = "h4";
  forged.exp = 4102444800;  // 2100
  expect_error(post(body, auth::sign_jwt(forged, "wrong-secret")), 401, "unauthorized");
  // A user token on an admin endpoint.
  auto admin =
      send_one(shared_service().port(),
               {"PUT", "/v1/admin/products/" + product_, user_token("h4"), product_body(5), {}});
  expect_error(admin, 401, "unauthorized");
  auto stats = send_one(shared_service().port(),
                        {"GET", "/v1/admin/products/" + product_ + "/stats", "", "", {}});
  expect_error(stats, 401, "unauthorized");
}

TEST_F(Hostile, BadIdempotencyKeyIs400) {
  auto r = post(reservation_body(product_), user_token("h5"),
                {{"Idempotency-Key", std::string(256, 'k')}});
  expect_error(r, 400, "invalid_request");
}

TEST_F(Hostile, SaleWindowIs422AndReplacingALiveSaleIs409) {
  const std::string future = unique_name("future");
  auto put = send_one(shared_service().port(),
                      {"PUT",
                       "/v1/admin/products/" + future,
                       admin_token(),
                       product_body(5, 1, 1, R"(,"sale_starts_at":"2100-01-01T00:00:00Z")"),
                       {}});
  ASSERT_EQ(put.status, 200) << put.body;
  expect_error(post(reservation_body(future), user_token("h6")), 422, "sale_not_active");
  auto view = send_one(shared_service().port(), {"GET", "/v1/products/" + future, "", "", {}});
  EXPECT_NE(view.body.find("UPCOMING"), std::string::npos) << view.body;

  ASSERT_EQ(post(reservation_body(product_), user_token("h6")).status, 201);
  auto replace = send_one(
      shared_service().port(),
      {"PUT", "/v1/admin/products/" + product_, admin_token(), product_body(10, 2, 1), {}});
  expect_error(replace, 409, "sale_in_progress");
}

TEST_F(Hostile, BadProductDefinitionsAre400) {
  for (const std::string body :
       {R"({"name":"x","price_cents":-1,"currency":"usd","stock":1})",
        R"({"name":"x","price_cents":1,"currency":"USD","stock":1})",
        R"({"name":"x","price_cents":1,"currency":"usd","stock":-5})",
        R"({"name":"x","price_cents":1,"currency":"usd","stock":1,"shards":0})",
        R"({"name":"x","price_cents":1,"currency":"usd","stock":1,"shards":1000})",
        R"({"name":"x","price_cents":1,"currency":"usd","stock":1,"sale_starts_at":"tomorrow"})",
        R"({"price_cents":1,"currency":"usd","stock":1})"}) {
    auto r =
        send_one(shared_service().port(),
                 {"PUT", "/v1/admin/products/" + unique_name("badp"), admin_token(), body, {}});
    expect_error(r, 400, "invalid_request");
  }
}

TEST_F(Hostile, UnknownRouteAndMethod) {
  auto r = send_one(shared_service().port(), {"GET", "/v1/nothing-here", "", "", {}});
  EXPECT_EQ(r.status, 404);
  auto m =
      send_one(shared_service().port(), {"DELETE", "/v1/reservations", user_token("h7"), "", {}});
  EXPECT_EQ(m.status, 405);
}

TEST_F(Hostile, MetricsCountEveryRejectionReason) {
  (void)post(reservation_body("no-such-product"), user_token("h8"));
  // A lookup that reaches PostgreSQL (a timed backend call), whatever ran before this test.
  (void)send_one(
      shared_service().port(),
      {"GET", "/v1/reservations/00000000-0000-4000-8000-000000000000", user_token("h8"), "", {}});
  auto m = send_one(shared_service().port(), {"GET", "/metrics", "", "", {}});
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("flashsale_reservations_total{outcome=\"not_found\"}"), std::string::npos);
  EXPECT_NE(m.body.find("flashsale_http_requests_total"), std::string::npos);
  EXPECT_NE(m.body.find("code=\"not_found\""), std::string::npos);
  EXPECT_NE(m.body.find("flashsale_backend_call_duration_seconds"), std::string::npos);
  EXPECT_NE(m.body.find("flashsale_redis_reserve_batch_size_count"), std::string::npos);
}

// Every I/O thread's probe timer fires every 20 ms and records how late it was.
TEST_F(Hostile, MetricsShowHowLateTheIoLoopsRun) {
  auto count = [] {
    auto m = send_one(shared_service().port(), {"GET", "/metrics", "", "", {}});
    EXPECT_EQ(m.status, 200);
    const std::string name = "flashsale_io_loop_lag_seconds_count ";
    auto at = m.body.find(name);
    return at == std::string::npos ? -1.0 : std::stod(m.body.substr(at + name.size()));
  };
  const double before = count();
  ASSERT_GE(before, 0) << "flashsale_io_loop_lag_seconds is not exported";
  std::this_thread::sleep_for(std::chrono::milliseconds{300});
  EXPECT_GE(count() - before, 5) << "the probes should have fired ~15 times per thread";
}

}  // namespace
}  // namespace fs::test
