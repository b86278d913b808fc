#include "domain/requests.hpp"

#include <gtest/gtest.h>

namespace fs {
namespace {

TEST(ReservationRequest, ParsesDefaultsAndOptionalFields) {
  auto r = parse_reservation_request(R"({"product_id":"iphone-15"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->product_id, "iphone-15");
  EXPECT_EQ(r->quantity, 1);
  EXPECT_FALSE(r->payment_method);
  auto full = parse_reservation_request(
      R"({"product_id":"iphone-15","quantity":2,"payment_method":"pm_card_visa","extra":1})");
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->quantity, 2);
  EXPECT_EQ(*full->payment_method, "pm_card_visa");
}

TEST(ReservationRequest, RejectsHostileInput) {
  for (const char* body :
       {"", " ", "{", "[1]", "1", "{\"product_id\":1}", "{\"product_id\":\"\"}",
        "{\"product_id\":\"a/b\"}", "{\"product_id\":\"x\",\"quantity\":0}",
        "{\"product_id\":\"x\",\"quantity\":-3}", "{\"product_id\":\"x\",\"quantity\":1e3}",
        "{\"product_id\":\"x\",\"quantity\":18446744073709551615}",
        "{\"product_id\":\"x\",\"quantity\":\"2\"}", "{\"product_id\":\"x\",\"payment_method\":5}",
        "{\"product_id\":\"x\",\"payment_method\":\"\"}",
        "{\"product_id\":\"x\",\"payment_method\":\"pm'; DROP\"}"}) {
    auto r = parse_reservation_request(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.code(), Errc::invalid_request) << body;
  }
}

// The hot path reads flat bodies with a scanner and everything else with Boost.JSON; both must
// give the same answer, and the scanner must take the bodies real clients send.
TEST(ReservationRequest, FlatScannerAndDomAgree) {
  const char* bodies[] = {
      // taken by the scanner
      R"({"product_id":"iphone-15","quantity":1})",
      R"( { "product_id" : "iphone-15" ,"quantity":2 , "payment_method":"pm_card_visa" } )",
      "{\"product_id\":\"p\",\r\n\t\"quantity\":3}",
      R"({"product_id":"p","quantity":null,"payment_method":null})",
      R"({"product_id":"p","extra":true,"other":false,"n":-12,"s":"x y"})",
      R"({})",
      R"({"product_id":"p","quantity":0})",
      R"({"product_id":"p","quantity":-3})",
      R"({"product_id":"p","quantity":1001})",
      R"({"product_id":"p","quantity":999999999999999999})",
      R"({"product_id":"p","quantity":"2"})",
      R"({"product_id":"p","quantity":true})",
      R"({"product_id":7})",
      R"({"product_id":""})",
      R"({"product_id":"a/b"})",
      R"({"product_id":"p","payment_method":"pm'; DROP"})",
      // handed to the DOM
      R"({"product_id":"p\u0031"})",
      R"({"product_id":"p","quantity":1.0})",
      R"({"product_id":"p","quantity":1e0})",
      R"({"product_id":"p","quantity":-0})",
      R"({"product_id":"p","quantity":01})",
      R"({"product_id":"p","quantity":18446744073709551615})",
      R"({"product_id":"p","quantity":1234567890123456789})",
      R"({"product_id":"p","product_id":"q"})",
      R"({"product_id":"p","x":{"y":1}})",
      R"({"product_id":"p","x":[1]})",
      "{\"product_id\":\"caf\xc3\xa9\"}",
      R"({"product_id":"p",})",
      R"({"product_id":"p"} x)",
      R"({"product_id":"p")",
      R"({"product_id" "p"})",
      R"({"product_id":"p","quantity":nul})",
      R"({"product_id":"p","quantity":truex})",
      R"([{"product_id":"p"}])",
      "",
      " ",
  };
  for (const char* body : bodies) {
    auto fast = parse_reservation_request(body);
    auto dom = detail::parse_reservation_request_dom(body);
    ASSERT_EQ(fast.ok(), dom.ok()) << body;
    if (fast) {
      EXPECT_EQ(fast->product_id, dom->product_id) << body;
      EXPECT_EQ(fast->quantity, dom->quantity) << body;
      EXPECT_EQ(fast->payment_method, dom->payment_method) << body;
    } else {
      EXPECT_EQ(fast.error().message, dom.error().message) << body;
    }
  }
  EXPECT_TRUE(detail::scans_flat(R"({"product_id":"iphone-15","quantity":1})"));
  EXPECT_TRUE(detail::scans_flat(R"({"product_id":"p","quantity":-3})"));
  EXPECT_FALSE(detail::scans_flat(R"({"product_id":"p\u0031"})"));
  EXPECT_FALSE(detail::scans_flat(R"({"product_id":"p","product_id":"q"})"));
  EXPECT_FALSE(detail::scans_flat(R"({"product_id":"p","quantity":1.5})"));
  EXPECT_FALSE(detail::scans_flat(R"({"product_id":"p"} x)"));
}

TEST(ReservationRequest, FingerprintDistinguishesRequests) {
  auto a = parse_reservation_request(R"({"product_id":"p","quantity":1})");
  auto b = parse_reservation_request(R"({"quantity":1,"product_id":"p"})");
  auto c = parse_reservation_request(R"({"product_id":"p","quantity":2})");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->fingerprint(), b->fingerprint());  // key order does not matter
  EXPECT_NE(a->fingerprint(), c->fingerprint());
}

TEST(ProductRequest, ValidatesEveryField) {
  auto ok = parse_product_request(
      "phone", R"({"name":"Phone","price_cents":999,"currency":"usd","stock":100,)"
               R"("per_user_limit":2,"shards":4,"reservation_ttl_seconds":60,)"
               R"("sale_starts_at":"2026-11-24T12:00:00Z","sale_ends_at":"2026-11-24T13:00:00Z"})");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->stock_total, 100);
  EXPECT_EQ(ok->per_user_limit, 2);
  EXPECT_EQ(ok->shards, 4);
  EXPECT_TRUE(ok->sale_starts_at && ok->sale_ends_at);
  auto defaults =
      parse_product_request("phone", R"({"name":"P","price_cents":1,"currency":"eur","stock":5})");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->per_user_limit, 1);
  EXPECT_EQ(defaults->shards, 10);
  EXPECT_EQ(defaults->reservation_ttl_seconds, 600);
  EXPECT_FALSE(parse_product_request("bad id",
                                     R"({"name":"P","price_cents":1,"currency":"eur","stock":5})"));
  EXPECT_FALSE(parse_product_request(
      "p", R"({"name":"P","price_cents":1,"currency":"eur","stock":5,)"
           R"("sale_starts_at":"2026-11-24T13:00:00Z","sale_ends_at":"2026-11-24T12:00:00Z"})"));
  EXPECT_FALSE(parse_product_request(
      "p", R"({"name":"P\u0000","price_cents":1,"currency":"eur","stock":5})"));
}

TEST(IdempotencyKey, VisibleAsciiUpTo255) {
  EXPECT_TRUE(valid_idempotency_key("abc-123"));
  EXPECT_TRUE(valid_idempotency_key(std::string(255, 'k')));
  EXPECT_FALSE(valid_idempotency_key(""));
  EXPECT_FALSE(valid_idempotency_key(std::string(256, 'k')));
  EXPECT_FALSE(valid_idempotency_key("has space"));
  EXPECT_FALSE(valid_idempotency_key("tab\there"));
}

}  // namespace
}  // namespace fs
