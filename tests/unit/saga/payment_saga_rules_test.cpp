#include <gtest/gtest.h>

#include "common/clock.hpp"
#include "common/random.hpp"
#include "domain/payment_saga.hpp"

namespace fs::saga_rules {
namespace {

using std::chrono::milliseconds;

TEST(ChargeKey, OnePerReservationNeverPerRetry) {
  EXPECT_EQ(charge_key("abc"), "res_abc");
  EXPECT_EQ(charge_key("abc"), charge_key("abc"));
  EXPECT_NE(refund_key("abc"), charge_key("abc"));
}

TEST(Transitions, PaymentStartsOnlyWhilePendingAndNotExpired) {
  ManualClock clock;
  Reservation r;
  r.status = ReservationStatus::pending;
  r.expires_at = clock.now() + std::chrono::seconds{10};
  EXPECT_TRUE(may_start_payment(r, clock.now()));
  clock.advance(std::chrono::seconds{10});
  EXPECT_FALSE(may_start_payment(r, clock.now()));  // expires_at is exclusive
  r.expires_at = clock.now() + std::chrono::seconds{10};
  for (auto s : {ReservationStatus::paying, ReservationStatus::paid, ReservationStatus::failed,
                 ReservationStatus::expired}) {
    r.status = s;
    EXPECT_FALSE(may_start_payment(r, clock.now()));
  }
}

TEST(Transitions, FinalStates) {
  EXPECT_FALSE(is_final(ReservationStatus::pending));
  EXPECT_FALSE(is_final(ReservationStatus::paying));
  EXPECT_TRUE(is_final(ReservationStatus::paid));
  EXPECT_TRUE(is_final(ReservationStatus::failed));
  EXPECT_TRUE(is_final(ReservationStatus::expired));
}

TEST(ClassifyCharge, SuccessDeclineRejectAndRetry) {
  EXPECT_EQ(classify_charge(true, Errc::internal, false, "", "").verdict, ChargeVerdict::succeeded);
  auto d = classify_charge(true, Errc::internal, true, "insufficient_funds", "card_declined");
  EXPECT_EQ(d.verdict, ChargeVerdict::declined);
  EXPECT_EQ(d.failure_code, "insufficient_funds");
  EXPECT_EQ(classify_charge(true, Errc::internal, true, "", "card_declined").failure_code,
            "card_declined");
  EXPECT_EQ(classify_charge(true, Errc::internal, true, "", "").failure_code, "card_declined");
  EXPECT_EQ(classify_charge(false, Errc::invalid_request, false, "", "").verdict,
            ChargeVerdict::rejected);
  // The outcome may be unknown or the failure transient: never fail, retry with the same key.
  for (auto e : {Errc::timeout, Errc::unavailable, Errc::protocol_error, Errc::unauthorized,
                 Errc::idempotency_conflict, Errc::cancelled})
    EXPECT_EQ(classify_charge(false, e, false, "", "").verdict, ChargeVerdict::retry);
}

TEST(RetryPolicy, FullJitterWithinAnExponentialCap) {
  RetryPolicy p;
  p.min_delay = milliseconds{10};
  p.initial = milliseconds{100};
  p.max_delay = milliseconds{1000};
  SeededRandom random(42);
  for (int attempt = 1; attempt <= 12; ++attempt) {
    const auto cap = std::min<std::int64_t>(1000, 100LL << (attempt - 1));
    milliseconds lo{1'000'000}, hi{0};
    for (int i = 0; i < 500; ++i) {
      auto d = p.delay(attempt, random);
      EXPECT_GE(d.count(), 10);
      EXPECT_LE(d.count(), cap);
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    // Jitter spreads the retries of many sagas over the whole window.
    EXPECT_LE(lo.count(), 10 + cap / 5) << attempt;
    EXPECT_GE(hi.count(), cap * 4 / 5) << attempt;
  }
  EXPECT_LE(p.delay(1000, random).count(), 1000);  // huge attempt numbers do not overflow
}

TEST(RetryPolicy, SameRandomnessSameSchedule) {
  RetryPolicy p;
  SeededRandom a(7), b(7);
  for (int i = 1; i < 20; ++i) EXPECT_EQ(p.delay(i, a), p.delay(i, b));
}

TEST(RetryPolicy, GivesUpAfterTheBudget) {
  RetryPolicy p;
  p.give_up_after = milliseconds{500};
  EXPECT_TRUE(p.may_retry(milliseconds{0}));
  EXPECT_TRUE(p.may_retry(milliseconds{499}));
  EXPECT_FALSE(p.may_retry(milliseconds{500}));
}

}  // namespace
}  // namespace fs::saga_rules
