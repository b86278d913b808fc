#include "crowd/crowd_requests.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <unordered_set>

#include "common/clock.hpp"
#include "crowd/crowd.hpp"
#include "domain/jwt.hpp"

namespace fs::crowd {
namespace {

TEST(CrowdRequests, UserSubjectsAreStableAndValidJwtSubjects) {
  EXPECT_EQ(user_subject(0), "user-000001");
  EXPECT_EQ(user_subject(99'999), "user-100000");
  EXPECT_EQ(user_subject(1'234'566), "user-1234567");

  // Every subject the crowd mints must pass the server's verifier.
  ManualClock clock;
  auth::JwtVerifier verifier("s3cret", clock);
  auth::Claims c;
  c.sub = user_subject(41);
  c.exp = 1'700'003'600;
  const auto r = verifier.verify(auth::sign_jwt(c, "s3cret"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->sub, "user-000042");
}

TEST(CrowdRequests, ForwardedIpsAreDistinctAndPlausible) {
  EXPECT_EQ(forwarded_ip_for(0), "11.1.1.1");
  EXPECT_EQ(forwarded_ip_for(253), "11.1.1.254");
  EXPECT_EQ(forwarded_ip_for(254), "11.1.2.1");
  EXPECT_EQ(forwarded_ip_for(254 * 254), "11.2.1.1");
  std::unordered_set<std::string> seen;
  // Past 254 * 254 users, so the carry into the second octet is covered too.
  constexpr std::size_t kUsers = 70'000;
  seen.reserve(kUsers);
  for (std::size_t u = 0; u < kUsers; ++u) {
    auto ip = forwarded_ip_for(u);
    ASSERT_EQ(ip.find(".0"), std::string::npos) << ip;  // no zero octet (1..254 only)
    ASSERT_FALSE(ip.starts_with("127.") || ip.starts_with("10.")) << ip;
    ASSERT_TRUE(seen.insert(std::move(ip)).second) << "duplicate for user " << u;
  }
}

TEST(CrowdRequests, RepeatedClicksOfOneUserAreAdjacent) {
  EXPECT_EQ(user_of_request(0, 1), 0u);
  EXPECT_EQ(user_of_request(7, 1), 7u);
  EXPECT_EQ(user_of_request(0, 3), 0u);
  EXPECT_EQ(user_of_request(2, 3), 0u);
  EXPECT_EQ(user_of_request(3, 3), 1u);
  EXPECT_EQ(user_of_request(299, 3), 99u);
}

TEST(CrowdRequests, BodiesMatchApiShapes) {
  CrowdOptions o;
  o.product_id = "iphone-15";
  o.stock = 7;
  o.shards = 3;
  o.per_user_limit = 2;
  o.price_cents = 123;
  o.currency = "eur";
  o.reservation_ttl_seconds = 60;
  const auto product = boost::json::parse(product_body(o)).as_object();
  EXPECT_EQ(product.at("name").as_string(), "Demo phone");
  EXPECT_EQ(product.at("price_cents").as_int64(), 123);
  EXPECT_EQ(product.at("currency").as_string(), "eur");
  EXPECT_EQ(product.at("stock").as_int64(), 7);
  EXPECT_EQ(product.at("per_user_limit").as_int64(), 2);
  EXPECT_EQ(product.at("shards").as_int64(), 3);
  EXPECT_EQ(product.at("reservation_ttl_seconds").as_int64(), 60);

  auto reservation = boost::json::parse(reservation_body(o)).as_object();
  EXPECT_EQ(reservation.at("product_id").as_string(), "iphone-15");
  EXPECT_EQ(reservation.at("quantity").as_int64(), 1);
  EXPECT_FALSE(reservation.contains("payment_method"));

  o.payment_method = "pm_card_visa";
  reservation = boost::json::parse(reservation_body(o)).as_object();
  EXPECT_EQ(reservation.at("payment_method").as_string(), "pm_card_visa");
}

TEST(CrowdRequests, MostCreatedByOneUser) {
  std::vector<std::uint32_t> none;
  EXPECT_EQ(most_created_by_one_user(none), 0u);
  std::vector<std::uint32_t> distinct{5, 1, 9};
  EXPECT_EQ(most_created_by_one_user(distinct), 1u);
  std::vector<std::uint32_t> repeats{4, 2, 4, 9, 2, 4};
  EXPECT_EQ(most_created_by_one_user(repeats), 3u);
}

TEST(CrowdRequests, ProductIdsMustBeUrlSafe) {
  EXPECT_TRUE(valid_product_id("demo-phone"));
  EXPECT_TRUE(valid_product_id("A.b_9"));
  EXPECT_FALSE(valid_product_id(""));
  EXPECT_FALSE(valid_product_id("a/b"));
  EXPECT_FALSE(valid_product_id("a b"));
  EXPECT_FALSE(valid_product_id("a?b"));
  EXPECT_FALSE(valid_product_id(std::string(65, 'a')));
}

TEST(CrowdRequests, RunCrowdRejectsBadOptionsBeforeAnyIo) {
  CrowdOptions o;
  o.port = 1;  // nothing is contacted: validation comes first
  EXPECT_EQ(run_crowd(o).code(), Errc::invalid_request);  // no secret
  o.jwt_secret = "s";
  o.product_id = "../admin";
  EXPECT_EQ(run_crowd(o).code(), Errc::invalid_request);
  o.product_id = "p";
  o.connections = 0;
  EXPECT_EQ(run_crowd(o).code(), Errc::invalid_request);
}

}  // namespace
}  // namespace fs::crowd
