#include "gateway/admission_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "gateway/ban_list.hpp"
#include "gateway/concurrency_limit.hpp"
#include "gateway/shared_token_buckets.hpp"

namespace fs::gateway {
namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kS = 1'000'000'000;

AdmissionQueueConfig config(double rate, std::size_t max_len, std::int64_t max_wait_ns,
                            double burst = 1) {
  AdmissionQueueConfig c;
  c.drain_per_second = rate;
  c.max_length = max_len;
  c.max_wait_ns = max_wait_ns;
  c.burst = burst;
  return c;
}

TEST(AdmissionQueue, IdleQueueAdmitsAtOnceThenQueuesInFifoOrder) {
  AdmissionQueue q(config(100, 10, kS), 0);
  EXPECT_EQ(q.enqueue(0).verdict, AdmissionQueue::Verdict::admitted);
  auto a = q.enqueue(0, 1);
  auto b = q.enqueue(0, 2);
  ASSERT_EQ(a.verdict, AdmissionQueue::Verdict::queued);
  ASSERT_EQ(b.verdict, AdmissionQueue::Verdict::queued);
  EXPECT_EQ(q.length(), 2u);
  std::vector<AdmissionQueue::Released> rel, exp;
  auto next = q.advance(5 * kMs, rel, exp);
  EXPECT_TRUE(rel.empty());
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, 10 * kMs);  // one release every 10 ms at 100/s
  q.advance(10 * kMs, rel, exp);
  ASSERT_EQ(rel.size(), 1u);
  EXPECT_EQ(rel[0].tag, 1u);
  EXPECT_EQ(rel[0].waited_ns, 10 * kMs);
  q.advance(20 * kMs, rel, exp);
  ASSERT_EQ(rel.size(), 2u);
  EXPECT_EQ(rel[1].tag, 2u);
  EXPECT_FALSE(q.advance(30 * kMs, rel, exp));  // empty: nothing to schedule
  EXPECT_TRUE(exp.empty());
}

TEST(AdmissionQueue, BurstOfAThousandDrainsAtTheRateAndTimesOutTheRest) {
  // Drain 100/s, max wait 1 s: ~100 leave in the first second, the rest expire.
  AdmissionQueue q(config(100, 100'000, kS), 0);
  std::size_t admitted = 0;
  for (int i = 0; i < 1000; ++i)
    if (q.enqueue(0, static_cast<std::uint64_t>(i)).verdict == AdmissionQueue::Verdict::admitted)
      ++admitted;
  std::vector<AdmissionQueue::Released> rel, exp;
  for (std::int64_t t = kMs; t <= 1100 * kMs; t += kMs) q.advance(t, rel, exp);
  EXPECT_EQ(admitted, 1u);
  EXPECT_EQ(admitted + rel.size(), 100u);                // t = 10 ms .. 990 ms release one each
  for (const auto& e : exp) EXPECT_EQ(e.waited_ns, kS);  // all time out exactly at max wait
  EXPECT_EQ(exp.size(), 900u);
  EXPECT_EQ(q.length(), 0u);
  for (std::size_t i = 1; i < rel.size(); ++i) EXPECT_LT(rel[i - 1].tag, rel[i].tag);  // FIFO
}

TEST(AdmissionQueue, ALateDrainTickReleasesTheBacklogItOwes) {
  AdmissionQueue q(config(100, 1000, 10 * kS), 0);
  EXPECT_EQ(q.enqueue(0).verdict, AdmissionQueue::Verdict::admitted);
  for (int i = 0; i < 50; ++i) q.enqueue(0, static_cast<std::uint64_t>(i));
  std::vector<AdmissionQueue::Released> rel, exp;
  q.advance(250 * kMs, rel, exp);  // the thread was busy: first tick after 250 ms
  EXPECT_EQ(rel.size(), 25u);
  rel.clear();
  q.advance(260 * kMs, rel, exp);
  EXPECT_EQ(rel.size(), 1u);  // then back to the rate, no saved-up burst
}

TEST(AdmissionQueue, FullQueueRefuses) {
  AdmissionQueue q(config(1, 3, kS), 0);
  EXPECT_EQ(q.enqueue(0).verdict, AdmissionQueue::Verdict::admitted);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(q.enqueue(0).verdict, AdmissionQueue::Verdict::queued);
  EXPECT_EQ(q.enqueue(0).verdict, AdmissionQueue::Verdict::full);
}

TEST(AdmissionQueue, CancelLeavesAtOnceAndFreesTheSlot) {
  AdmissionQueue q(config(1, 2, 10 * kS), 0);
  EXPECT_EQ(q.enqueue(0).verdict, AdmissionQueue::Verdict::admitted);
  auto a = q.enqueue(0, 1);
  auto b = q.enqueue(0, 2);
  EXPECT_EQ(q.enqueue(0).verdict, AdmissionQueue::Verdict::full);
  EXPECT_TRUE(q.cancel(a.ticket));
  EXPECT_FALSE(q.cancel(a.ticket));
  EXPECT_EQ(q.length(), 1u);
  EXPECT_EQ(q.enqueue(0, 3).verdict, AdmissionQueue::Verdict::queued);
  std::vector<AdmissionQueue::Released> rel, exp;
  q.advance(kS, rel, exp);
  ASSERT_EQ(rel.size(), 1u);
  EXPECT_EQ(rel[0].tag, 2u);  // the cancelled one was skipped
  EXPECT_FALSE(q.cancel(b.ticket));
}

TEST(AdmissionQueue, DefaultBurstReleasesTenMillisecondsWorthPerTick) {
  AdmissionQueueConfig c;
  c.drain_per_second = 10'000;
  c.max_length = 1'000'000;
  c.max_wait_ns = 30 * kS;
  AdmissionQueue q(c, 0);
  std::size_t admitted = 0;
  for (int i = 0; i < 500; ++i)
    if (q.enqueue(0).verdict == AdmissionQueue::Verdict::admitted) ++admitted;
  EXPECT_EQ(admitted, 100u);  // an idle queue lets 10 ms worth through at once
  std::vector<AdmissionQueue::Released> rel, exp;
  q.advance(kMs, rel, exp);
  EXPECT_EQ(rel.size(), 10u);  // then 1 ms of drain per millisecond
  EXPECT_EQ(q.length(), 390u);
}

// Two queues (two I/O threads) on one budget: the configured rate and length are the process'
// figures whichever thread the waiters landed on.
TEST(AdmissionQueue, QueuesSharingABudgetDrainAtTheGlobalRateWhereverTheWaitersAre) {
  const auto c = config(100, 1000, 100 * kS);
  auto budget = std::make_shared<DrainBudget>(c, 0);
  AdmissionQueue a(c, budget), b(c, budget);
  std::vector<AdmissionQueue::Released> rel_a, rel_b, exp;
  // All waiters on one thread: that queue drains at the full 100/s (a per-thread split would
  // give it 50/s while the other thread's share went unused).
  EXPECT_EQ(a.enqueue(0).verdict, AdmissionQueue::Verdict::admitted);  // the burst of 1
  for (int i = 0; i < 500; ++i) ASSERT_EQ(a.enqueue(0).verdict, AdmissionQueue::Verdict::queued);
  for (std::int64_t t = kMs; t <= kS; t += kMs) {
    a.advance(t, rel_a, exp);
    b.advance(t, rel_b, exp);
  }
  EXPECT_NEAR(static_cast<double>(rel_a.size()), 100.0, 1.0);
  EXPECT_TRUE(rel_b.empty());
  EXPECT_EQ(budget->waiting(), a.length());
  // Now both threads hold waiters: together still 100/s, shared in proportion (400 vs 400).
  for (int i = 0; i < 400; ++i) ASSERT_EQ(b.enqueue(kS).verdict, AdmissionQueue::Verdict::queued);
  rel_a.clear();
  for (std::int64_t t = kS + kMs; t <= 3 * kS; t += kMs) {
    a.advance(t, rel_a, exp);
    b.advance(t, rel_b, exp);
  }
  EXPECT_NEAR(static_cast<double>(rel_a.size() + rel_b.size()), 200.0, 1.0);  // 2 s at 100/s
  EXPECT_NEAR(static_cast<double>(rel_a.size()), 100.0, 10.0);
  EXPECT_TRUE(exp.empty());
  EXPECT_EQ(budget->waiting(), a.length() + b.length());
}

TEST(AdmissionQueue, QueuesSharingABudgetShareOneMaximumLength) {
  const auto c = config(1, 10, 100 * kS);
  auto budget = std::make_shared<DrainBudget>(c, 0);
  AdmissionQueue a(c, budget), b(c, budget);
  EXPECT_EQ(a.enqueue(0).verdict, AdmissionQueue::Verdict::admitted);
  // A newcomer on the idle thread still waits its turn behind the other thread's waiters.
  for (int i = 0; i < 6; ++i) ASSERT_EQ(a.enqueue(0).verdict, AdmissionQueue::Verdict::queued);
  auto t = b.enqueue(0);
  EXPECT_EQ(t.verdict, AdmissionQueue::Verdict::queued);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(b.enqueue(0).verdict, AdmissionQueue::Verdict::queued);
  EXPECT_EQ(b.enqueue(0).verdict, AdmissionQueue::Verdict::full);  // 10 wait in all
  EXPECT_EQ(a.enqueue(0).verdict, AdmissionQueue::Verdict::full);
  EXPECT_TRUE(b.cancel(t.ticket));  // leaving frees a place for either thread
  EXPECT_EQ(a.enqueue(0).verdict, AdmissionQueue::Verdict::queued);
  {
    AdmissionQueue gone(c, budget);  // a destroyed queue gives its places back
    EXPECT_EQ(gone.enqueue(0).verdict, AdmissionQueue::Verdict::full);
  }
  EXPECT_EQ(budget->waiting(), 10u);
}

TEST(AdmissionQueue, AQueueWithASmallShareLooksAgainSoon) {
  // 1 waiter here, 99 elsewhere: at its share this queue would wait 1 s for a credit; if the
  // others leave it must not sleep that out.
  const auto c = config(100, 1000, 100 * kS);
  auto budget = std::make_shared<DrainBudget>(c, 0);
  AdmissionQueue a(c, budget), b(c, budget);
  EXPECT_EQ(a.enqueue(0).verdict, AdmissionQueue::Verdict::admitted);
  a.enqueue(0, 1);
  std::vector<AdmissionQueue::Ticket> others;
  for (int i = 0; i < 99; ++i) others.push_back(b.enqueue(0).ticket);
  std::vector<AdmissionQueue::Released> rel, exp;
  auto next = a.advance(kMs, rel, exp);
  ASSERT_TRUE(next);
  EXPECT_LE(*next, 11 * kMs);
  for (auto t : others) b.cancel(t);
  a.advance(*next, rel, exp);  // now alone: it gets the whole rate, and the credit it is owed
  EXPECT_EQ(rel.size(), 1u);
}

TEST(AdmissionQueue, SharedBudgetHoldsTheRateUnderRealThreads) {
  // Four threads, each its own queue, hammer one budget with enqueues and drain ticks on a fake
  // clock they advance together: releases never exceed rate x time + burst.
  const auto c = config(1000, 1'000'000, 100 * kS, 10);
  auto budget = std::make_shared<DrainBudget>(c, 0);
  std::atomic<std::int64_t> now{0};
  std::atomic<std::size_t> released{0}, admitted{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&] {
      AdmissionQueue q(c, budget);
      std::vector<AdmissionQueue::Released> rel, exp;
      for (int i = 0; i < 20'000; ++i) {
        const std::int64_t t = now.fetch_add(10'000) + 10'000;  // 4 x 20,000 x 10 us = 0.8 s
        if (q.enqueue(t).verdict == AdmissionQueue::Verdict::admitted) ++admitted;
        rel.clear();
        q.advance(t, rel, exp);
        released += rel.size();
      }
    });
  for (auto& t : threads) t.join();
  const double seconds = static_cast<double>(now.load()) / kS;
  EXPECT_LE(static_cast<double>(released + admitted), 1000 * seconds + 10 + 1);
  EXPECT_GE(static_cast<double>(released + admitted), 1000 * seconds * 0.95);
  EXPECT_EQ(budget->waiting(), 0u);  // the queues died with their waiters
}

TEST(ConcurrencyLimit, RefusesBeyondTheLimitAndReleasesOnDestruction) {
  ConcurrencyLimit limit(2);
  auto a = limit.try_acquire();
  auto b = limit.try_acquire();
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(limit.try_acquire());
  a.reset();
  EXPECT_EQ(limit.in_flight(), 1);
  EXPECT_TRUE(limit.try_acquire());
}

TEST(SharedTokenBuckets, OneBudgetPerKeyAcrossThreads) {
  SharedTokenBuckets buckets({10, 10}, 1000);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i)
        if (buckets.try_take("1.2.3.4", 0).allowed) ++allowed;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 10);
  auto refused = buckets.try_take("1.2.3.4", 0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_seconds, 1);
  EXPECT_TRUE(buckets.try_take("5.6.7.8", 0).allowed);
}

TEST(BanList, RemainingIsTheLongerBanAndLiftWorks) {
  BanList bans;
  EXPECT_EQ(bans.remaining("1.2.3.4", "u1", 100), 0);
  bans.ban("ip", "1.2.3.4", 200);
  bans.ban("user", "u1", 400);
  EXPECT_EQ(bans.remaining("1.2.3.4", "", 100), 100);
  EXPECT_EQ(bans.remaining("9.9.9.9", "u1", 100), 300);
  EXPECT_EQ(bans.remaining("1.2.3.4", "u1", 100), 300);
  EXPECT_EQ(bans.list(100).size(), 2u);
  EXPECT_EQ(bans.list(300).size(), 1u);  // the IP ban expired
  EXPECT_TRUE(bans.lift("user", "u1"));
  EXPECT_EQ(bans.remaining("9.9.9.9", "u1", 100), 0);
}

}  // namespace
}  // namespace fs::gateway
