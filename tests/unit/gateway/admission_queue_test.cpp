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
