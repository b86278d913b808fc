#include "domain/json_views.hpp"

#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <random>

namespace fs {
namespace {

// The reservation view as it was built before it was written out by hand: a json::object
// serialized by Boost.JSON. The hand-written one must produce the same bytes.
std::string serialized_view(const Reservation& r) {
  boost::json::object o;
  o["reservation_id"] = r.reservation_id;
  o["product_id"] = r.product_id;
  o["user_id"] = r.user_id;
  o["quantity"] = r.quantity;
  o["status"] = to_string(r.status);
  o["amount_cents"] = r.amount_cents;
  o["currency"] = r.currency;
  o["expires_at"] = format_rfc3339(r.expires_at);
  o["created_at"] = format_rfc3339(r.created_at);
  if (r.order_id) o["order_id"] = *r.order_id;
  if (r.payment_id) o["payment_id"] = *r.payment_id;
  if (r.failure_code) o["failure_code"] = *r.failure_code;
  return boost::json::serialize(o);
}

Reservation sample() {
  Reservation r;
  r.reservation_id = "0b5e1c3a-7f7e-4d2a-9a55-2f3c4d5e6f70";
  r.product_id = "phone-x";
  r.user_id = "user-42";
  r.quantity = 1;
  r.amount_cents = 79900;
  r.currency = "usd";
  r.created_at = SysTime{std::chrono::milliseconds{1'764'000'000'123}};
  r.expires_at = r.created_at + std::chrono::seconds{600};
  return r;
}

TEST(ReservationJson, ReadsAsApiMdShowsIt) {
  EXPECT_EQ(reservation_json(sample()),
            R"({"reservation_id":"0b5e1c3a-7f7e-4d2a-9a55-2f3c4d5e6f70","product_id":"phone-x",)"
            R"("user_id":"user-42","quantity":1,"status":"PENDING","amount_cents":79900,)"
            R"("currency":"usd","expires_at":"2025-11-24T16:10:00.123Z",)"
            R"("created_at":"2025-11-24T16:00:00.123Z"})");
}

TEST(ReservationJson, EqualsBoostJsonsSerializationForEveryShape) {
  std::mt19937 rng(20261203);
  std::uniform_int_distribution<int> byte(0, 255), len(0, 24), coin(0, 1);
  auto text = [&] {
    std::string s(static_cast<std::size_t>(len(rng)), '\0');
    for (auto& c : s) c = static_cast<char>(byte(rng));
    return s;
  };
  const ReservationStatus statuses[] = {ReservationStatus::pending, ReservationStatus::paying,
                                        ReservationStatus::paid, ReservationStatus::failed,
                                        ReservationStatus::expired};
  std::uniform_int_distribution<long long> ms(-2'000'000'000'000LL, 9'000'000'000'000LL);
  for (int i = 0; i < 3000; ++i) {
    Reservation r = sample();
    r.reservation_id = text();
    r.product_id = text();
    r.user_id = text();
    r.currency = text();
    r.quantity = static_cast<int>(rng());
    r.amount_cents =
        static_cast<std::int64_t>(rng()) * (coin(rng) ? -1 : 1) * (coin(rng) ? 1 : 1'000'000'000);
    r.status = statuses[rng() % 5];
    r.expires_at = SysTime{std::chrono::milliseconds{ms(rng)}};
    r.created_at = SysTime{std::chrono::milliseconds{ms(rng)}};
    if (coin(rng)) r.order_id = text();
    if (coin(rng)) r.payment_id = text();
    if (coin(rng)) r.failure_code = text();
    ASSERT_EQ(reservation_json(r), serialized_view(r)) << "case " << i;
  }
}

TEST(ReservationJson, ParsesBackWithEveryOptionalMember) {
  Reservation r = sample();
  r.status = ReservationStatus::failed;
  r.order_id = "ord-1";
  r.payment_id = "pay_\"quoted\"";
  r.failure_code = "card_declined\n";
  const auto v = boost::json::parse(reservation_json(r)).as_object();
  EXPECT_EQ(v.at("status").as_string(), "FAILED");
  EXPECT_EQ(v.at("order_id").as_string(), "ord-1");
  EXPECT_EQ(v.at("payment_id").as_string(), "pay_\"quoted\"");
  EXPECT_EQ(v.at("failure_code").as_string(), "card_declined\n");
  EXPECT_EQ(v.at("amount_cents").as_int64(), 79900);
}

}  // namespace
}  // namespace fs
