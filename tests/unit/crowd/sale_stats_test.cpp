#include "crowd/sale_stats.hpp"

#include <gtest/gtest.h>

namespace fs::crowd {
namespace {

SaleStats stats(std::int64_t total, std::int64_t available, std::int64_t pending,
                std::int64_t paying = 0, std::int64_t paid = 0, std::int64_t failed = 0,
                std::int64_t expired = 0) {
  SaleStats s;
  s.product_id = "p";
  s.stock_total = total;
  s.available = available;
  s.pending = pending;
  s.paying = paying;
  s.paid = paid;
  s.failed = failed;
  s.expired = expired;
  return s;
}

InvariantInputs inputs(std::uint64_t created, bool fresh = true, std::uint64_t max_per_user = 1) {
  InvariantInputs in;
  in.created = created;
  in.fresh_product = fresh;
  in.per_user_limit = 1;
  in.max_created_per_user = max_per_user;
  return in;
}

TEST(ParseSaleStats, ReadsApiShape) {
  const auto r = parse_sale_stats(
      R"({"product_id":"demo-phone","stock_total":100,"available":3,"pending":90,"paying":2,)"
      R"("paid":5,"failed":1,"expired":0,"shards":[{"shard":0,"available":3}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->product_id, "demo-phone");
  EXPECT_EQ(r->stock_total, 100);
  EXPECT_EQ(r->available, 3);
  EXPECT_EQ(r->pending, 90);
  EXPECT_EQ(r->paying, 2);
  EXPECT_EQ(r->paid, 5);
  EXPECT_EQ(r->failed, 1);
  EXPECT_EQ(r->expired, 0);
}

TEST(ParseSaleStats, RejectsMissingOrMistypedCounters) {
  EXPECT_EQ(parse_sale_stats("not json").code(), Errc::protocol_error);
  EXPECT_EQ(parse_sale_stats("[1,2]").code(), Errc::protocol_error);
  const auto missing = parse_sale_stats(
      R"({"stock_total":1,"available":1,"pending":0,"paying":0,"paid":0,"failed":0})");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("expired"), std::string::npos);
  EXPECT_FALSE(parse_sale_stats(R"({"stock_total":"1","available":1,"pending":0,"paying":0,)"
                                R"("paid":0,"failed":0,"expired":0})")
                   .ok());
  EXPECT_FALSE(parse_sale_stats(R"({"stock_total":1.5,"available":1,"pending":0,"paying":0,)"
                                R"("paid":0,"failed":0,"expired":0})")
                   .ok());
}

TEST(AtRest, PayingOrOneClickPendingIsInFlight) {
  EXPECT_TRUE(at_rest(stats(100, 0, 100), false));
  EXPECT_FALSE(at_rest(stats(100, 0, 100), true));
  EXPECT_FALSE(at_rest(stats(100, 0, 0, 3, 97), false));
  EXPECT_TRUE(at_rest(stats(100, 0, 0, 0, 97, 3), true));
}

TEST(CheckInvariants, SoldOutSaleHolds) {
  const auto c = check_invariants(stats(100, 0, 100), inputs(100));
  EXPECT_TRUE(c.checked);
  EXPECT_TRUE(c.ok) << c.message;
  EXPECT_EQ(c.message, "all invariants hold");
}

TEST(CheckInvariants, PartialSaleWithPaymentsHolds) {
  // 60 reserved: 10 pending, 40 paid, 10 failed (their stock went back): 60 available.
  const auto c = check_invariants(stats(100, 60, 10, 0, 30, 10, 10), inputs(60));
  EXPECT_TRUE(c.ok) << c.message;
}

TEST(CheckInvariants, LostStockBreaksConservation) {
  const auto c = check_invariants(stats(100, 1, 98), inputs(98));
  EXPECT_FALSE(c.ok);
  EXPECT_NE(c.message.find("conservation"), std::string::npos) << c.message;
  EXPECT_NE(c.message.find("99 != stock_total 100"), std::string::npos) << c.message;
}

TEST(CheckInvariants, MoreCreatedThanStockIsOversell) {
  const auto c = check_invariants(stats(100, 0, 100), inputs(101));
  EXPECT_FALSE(c.ok);
  EXPECT_NE(c.message.find("oversell: 101 reservations"), std::string::npos) << c.message;
}

TEST(CheckInvariants, ReleasedStockMayBeReservedAgain) {
  // 5 expired units were sold again: 105 honest 201s for 100 units.
  const auto c = check_invariants(stats(100, 0, 100, 0, 0, 0, 5), inputs(105));
  EXPECT_TRUE(c.ok) << c.message;
  const auto over = check_invariants(stats(100, 0, 100, 0, 0, 0, 5), inputs(106));
  EXPECT_FALSE(over.ok);
}

TEST(CheckInvariants, HeldAboveStockIsOversell) {
  const auto c = check_invariants(stats(100, -2, 102), inputs(102));
  EXPECT_FALSE(c.ok);
  EXPECT_NE(c.message.find("pending + paying + paid = 102 > stock_total 100"), std::string::npos)
      << c.message;
  EXPECT_NE(c.message.find("negative available"), std::string::npos) << c.message;
}

TEST(CheckInvariants, LedgerMustMatchAcknowledgementsOnFreshProduct) {
  // The server recorded 100 reservations but only 99 clients heard 201: one answer got lost, or
  // one reservation was created twice.
  const auto c = check_invariants(stats(100, 0, 100), inputs(99));
  EXPECT_FALSE(c.ok);
  EXPECT_NE(c.message.find("ledger"), std::string::npos) << c.message;
  // A product that existed before the crowd may hold older reservations.
  EXPECT_TRUE(check_invariants(stats(100, 0, 100), inputs(99, false)).ok);
}

TEST(CheckInvariants, PerUserLimit) {
  const auto c = check_invariants(stats(100, 98, 2), inputs(2, true, 2));
  EXPECT_FALSE(c.ok);
  EXPECT_NE(c.message.find("per-user limit"), std::string::npos) << c.message;
  // With a failed payment the user may have reserved again legitimately.
  EXPECT_TRUE(check_invariants(stats(100, 99, 1, 0, 0, 1), inputs(2, true, 2)).ok);
}

TEST(CheckInvariants, EveryViolationIsReportedOnItsOwnLine) {
  const auto c = check_invariants(stats(10, 5, 12), inputs(13, true, 3));
  EXPECT_FALSE(c.ok);
  std::size_t lines = 1;
  for (char ch : c.message) lines += ch == '\n';
  EXPECT_EQ(lines, 5u) << c.message;  // conservation, held > stock, 201 > stock, ledger, per-user
}

}  // namespace
}  // namespace fs::crowd
