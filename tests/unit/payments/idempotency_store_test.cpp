#include "payments_sim/idempotency_store.hpp"

#include <gtest/gtest.h>

namespace fs::payments_sim {
namespace {

using Outcome = IdempotencyStore::Outcome;
using namespace std::chrono_literals;

TEST(IdempotencyStore, FirstUseIsFreshThenInFlightThenReplay) {
  ManualClock clock;
  IdempotencyStore store(clock);
  EXPECT_EQ(store.begin("k", "fp").outcome, Outcome::fresh);
  EXPECT_EQ(store.begin("k", "fp").outcome, Outcome::in_flight);
  store.finish("k", StoredReply{200, "body"});
  auto again = store.begin("k", "fp");
  EXPECT_EQ(again.outcome, Outcome::replay);
  EXPECT_EQ(again.reply.status, 200);
  EXPECT_EQ(again.reply.body, "body");
}

TEST(IdempotencyStore, OtherParametersAreAMismatchEvenWhileInFlight) {
  ManualClock clock;
  IdempotencyStore store(clock);
  EXPECT_EQ(store.begin("k", "fp1").outcome, Outcome::fresh);
  EXPECT_EQ(store.begin("k", "fp2").outcome, Outcome::mismatch);
  store.finish("k", StoredReply{402, "declined"});
  EXPECT_EQ(store.begin("k", "fp2").outcome, Outcome::mismatch);
  EXPECT_EQ(store.begin("other", "fp2").outcome, Outcome::fresh);
}

TEST(IdempotencyStore, KeysExpireAfter24Hours) {
  ManualClock clock;
  IdempotencyStore store(clock);
  ASSERT_EQ(store.begin("k", "fp1").outcome, Outcome::fresh);
  store.finish("k", StoredReply{200, "first"});
  clock.advance(24h - 1s);
  EXPECT_EQ(store.begin("k", "fp1").outcome, Outcome::replay);
  clock.advance(1s);
  // Expired: the key is free again, even for other parameters.
  EXPECT_EQ(store.begin("k", "fp2").outcome, Outcome::fresh);
}

TEST(IdempotencyStore, SweepForgetsExpiredKeys) {
  ManualClock clock;
  IdempotencyStore store(clock);
  for (int i = 0; i < 10; ++i) {
    std::string key = "k" + std::to_string(i);
    ASSERT_EQ(store.begin(key, "fp").outcome, Outcome::fresh);
    store.finish(key, StoredReply{200, "x"});
  }
  EXPECT_EQ(store.size(), 10u);
  clock.advance(25h);
  EXPECT_EQ(store.begin("new", "fp").outcome, Outcome::fresh);
  EXPECT_EQ(store.size(), 1u);
}

TEST(IdempotencyStore, AbandonFreesAKeyThatNeverExecuted) {
  ManualClock clock;
  IdempotencyStore store(clock);
  ASSERT_EQ(store.begin("k", "fp").outcome, Outcome::fresh);
  store.abandon("k");
  EXPECT_EQ(store.begin("k", "fp").outcome, Outcome::fresh);
}

}  // namespace
}  // namespace fs::payments_sim
