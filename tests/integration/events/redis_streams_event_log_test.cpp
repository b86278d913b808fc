// RedisStreamsEventLog against a real redis-server: partitions, consumer groups, reclaim of a
// dead member's entries, lag, retention, and that blocking reads never stall the shared client.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <map>
#include <set>
#include <thread>

#include "events_test_env.hpp"
#include "support/run_coroutine.hpp"

namespace fs::events {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using asio::awaitable;
using test::LogOnThread;
using test::run_coroutine;

constexpr const char* kTopic = "reservations";

Event make_event(int i, int key_count = 1000) {
  return Event{types::reservation_created, "key-" + std::to_string(i % key_count),
               "{\"n\":" + std::to_string(i) + "}"};
}

int n_of(const Delivery& d) { return std::stoi(d.event.payload.substr(5)); }

// Consumes until `want` deliveries arrived or `deadline` passed; acks when asked.
awaitable<std::vector<Delivery>> drain(RedisStreamsEventLog& log, std::string group,
                                       std::string consumer, std::size_t want, bool ack,
                                       std::chrono::milliseconds deadline = 10s) {
  std::vector<Delivery> all;
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (all.size() < want && std::chrono::steady_clock::now() < until) {
    auto got = co_await log.consume(kTopic, group, consumer, 16, 200ms, 60s);
    EXPECT_TRUE(got.ok()) << (got ? "" : got.error().message);
    if (!got) break;
    for (auto& d : *got) {
      if (ack) {
        EXPECT_TRUE((co_await log.ack(group, d)).ok());
      }
      all.push_back(std::move(d));
    }
  }
  co_return all;
}

TEST(RedisStreamsEventLog, PublishesAcrossPartitionsAndKeepsPerKeyOrder) {
  LogOnThread t(test::streams_config(4));
  run_coroutine(t.io, [&]() -> awaitable<void> {
    EXPECT_TRUE((co_await t.log->ensure_group(kTopic, "g")).ok());
    EXPECT_TRUE((co_await t.log->ensure_group(kTopic, "g")).ok());  // idempotent
    for (int i = 0; i < 200; ++i) {
      auto id = co_await t.log->publish(kTopic, make_event(i, 20));
      EXPECT_TRUE(id.ok()) << id.error().message;
    }
    auto all = co_await drain(*t.log, "g", "c1", 200, true);
    EXPECT_EQ(all.size(), 200u);
    std::set<std::string> partitions;
    std::map<std::string, int> last_of_key;
    std::set<int> seen;
    for (const auto& d : all) {
      partitions.insert(d.partition);
      EXPECT_EQ(d.delivery_count, 1);
      EXPECT_EQ(d.event.type, types::reservation_created);
      EXPECT_EQ(d.partition, t.log->partitions(kTopic)[partition_of(d.event.key, 4)]);  // hash(key)
      const int n = n_of(d);
      EXPECT_TRUE(seen.insert(n).second) << "duplicate " << n;
      auto it = last_of_key.find(d.event.key);
      if (it != last_of_key.end()) {
        EXPECT_LT(it->second, n) << "order of " << d.event.key;
      }
      last_of_key[d.event.key] = n;
    }
    EXPECT_EQ(partitions.size(), 4u);
    auto lag = co_await t.log->lag(kTopic, "g");
    EXPECT_TRUE(lag.ok());
    EXPECT_EQ(lag->undelivered, 0);
    EXPECT_EQ(lag->pending, 0);
  }());
}

TEST(RedisStreamsEventLog, BatchPublishIsPipelinedAndComplete) {
  LogOnThread t(test::streams_config(3));
  run_coroutine(t.io, [&]() -> awaitable<void> {
    EXPECT_TRUE((co_await t.log->ensure_group(kTopic, "g")).ok());
    std::vector<Event> batch;
    for (int i = 0; i < 500; ++i) batch.push_back(make_event(i));
    auto ids = co_await t.log->publish_batch(kTopic, std::move(batch));
    EXPECT_TRUE(ids.ok());
    EXPECT_EQ(ids->size(), 500u);
    auto all = co_await drain(*t.log, "g", "c", 500, true);
    std::set<int> distinct;
    for (const auto& d : all) distinct.insert(n_of(d));
    EXPECT_EQ(distinct.size(), 500u);
  }());
}

// Two members of one group on two threads, each with its own connections: every event goes to
// exactly one of them, and both get a share.
TEST(RedisStreamsEventLog, TwoConsumersOfOneGroupSplitTheEvents) {
  auto config = test::streams_config(4);
  LogOnThread producer(config);
  run_coroutine(producer.io, [&]() -> awaitable<void> {
    EXPECT_TRUE((co_await producer.log->ensure_group(kTopic, "g")).ok());
  }());
  constexpr int kEvents = 1000;
  std::atomic<int> received{0};
  std::vector<Delivery> got[2];
  std::vector<std::thread> threads;
  for (int c = 0; c < 2; ++c) {
    threads.emplace_back([&, c] {
      LogOnThread me(config);
      run_coroutine(me.io, [&]() -> awaitable<void> {
        const auto until = std::chrono::steady_clock::now() + 20s;
        while (received.load() < kEvents && std::chrono::steady_clock::now() < until) {
          auto batch =
              co_await me.log->consume(kTopic, "g", "c" + std::to_string(c), 8, 100ms, 60s);
          if (!batch) continue;
          for (auto& d : *batch) {
            EXPECT_TRUE((co_await me.log->ack("g", d)).ok());
            got[c].push_back(std::move(d));
            ++received;
          }
        }
      }());
    });
  }
  run_coroutine(producer.io, [&]() -> awaitable<void> {
    for (int i = 0; i < kEvents; ++i) (void)co_await producer.log->publish(kTopic, make_event(i));
  }());
  for (auto& th : threads) th.join();
  std::set<int> all;
  for (auto& v : got)
    for (auto& d : v) EXPECT_TRUE(all.insert(n_of(d)).second) << "delivered twice: " << n_of(d);
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kEvents));
  EXPECT_GT(got[0].size(), 0u);
  EXPECT_GT(got[1].size(), 0u);
}

// A member takes entries and dies without acking: after reclaim_idle another member gets them
// (delivery_count 2); before that it does not.
TEST(RedisStreamsEventLog, EntriesOfADeadMemberAreReclaimedByALiveOne) {
  LogOnThread t(test::streams_config(2));
  run_coroutine(t.io, [&]() -> awaitable<void> {
    EXPECT_TRUE((co_await t.log->ensure_group(kTopic, "g")).ok());
    for (int i = 0; i < 10; ++i) (void)co_await t.log->publish(kTopic, make_event(i));
    auto taken = co_await drain(*t.log, "g", "dead", 10, /*ack=*/false);
    EXPECT_EQ(taken.size(), 10u);

    // Not idle long enough yet: the live member sees nothing.
    auto early = co_await t.log->consume(kTopic, "g", "live", 100, 0ms, 60s);
    EXPECT_TRUE(early.ok());
    EXPECT_TRUE(early->empty());

    co_await test::sleep_for(300ms);
    auto reclaimed = co_await t.log->consume(kTopic, "g", "live", 100, 0ms, 200ms);
    EXPECT_TRUE(reclaimed.ok());
    EXPECT_EQ(reclaimed->size(), 10u);
    std::set<int> ns;
    for (auto& d : *reclaimed) {
      EXPECT_EQ(d.delivery_count, 2) << d.id;
      ns.insert(n_of(d));
      EXPECT_TRUE((co_await t.log->ack("g", d)).ok());
    }
    EXPECT_EQ(ns.size(), 10u);
    auto lag = co_await t.log->lag(kTopic, "g");
    EXPECT_EQ(lag->pending, 0);
    // Acked: nothing left to reclaim.
    co_await test::sleep_for(250ms);
    auto none = co_await t.log->consume(kTopic, "g", "other", 100, 0ms, 200ms);
    EXPECT_TRUE(none->empty());
  }());
}

TEST(RedisStreamsEventLog, LagCountsUndeliveredAndPendingAndFeedsTheGauge) {
  metrics::MetricsRegistry registry;
  metrics::EventMetrics metrics(registry);
  LogOnThread t(test::streams_config(1), &metrics);
  run_coroutine(t.io, [&]() -> awaitable<void> {
    EXPECT_TRUE((co_await t.log->ensure_group(kTopic, "g")).ok());
    for (int i = 0; i < 10; ++i) (void)co_await t.log->publish(kTopic, make_event(i));
    auto lag = co_await t.log->lag(kTopic, "g");
    EXPECT_EQ(lag->undelivered, 10);
    EXPECT_EQ(lag->pending, 0);
    auto four = co_await t.log->consume(kTopic, "g", "c", 4, 0ms, 60s);
    EXPECT_EQ(four->size(), 4u);
    lag = co_await t.log->lag(kTopic, "g");
    EXPECT_EQ(lag->undelivered, 6);
    EXPECT_EQ(lag->pending, 4);
    for (auto& d : *four) (void)co_await t.log->ack("g", d);
    lag = co_await t.log->lag(kTopic, "g");
    EXPECT_EQ(lag->undelivered, 6);
    EXPECT_EQ(lag->pending, 0);
    // A group that does not exist has no lag.
    auto other = co_await t.log->lag(kTopic, "nobody");
    EXPECT_EQ(other->undelivered, 0);
  }());
  const auto text = registry.serialize();
  EXPECT_NE(text.find("flashsale_event_consumer_lag{group=\"g\""), std::string::npos) << text;
  EXPECT_NE(text.find("} 6"), std::string::npos) << text;
  EXPECT_NE(text.find("flashsale_events_published_total{result=\"ok\",topic=\"reservations\"} 10"),
            std::string::npos)
      << text;
}

// While one member blocks in XREADGROUP, the shared client keeps answering at once, and a
// publish wakes the blocked member long before its block time.
TEST(RedisStreamsEventLog, BlockingReadsDoNotStallTheSharedClient) {
  LogOnThread t(test::streams_config(4));
  run_coroutine(t.io, [&]() -> awaitable<void> {
    EXPECT_TRUE((co_await t.log->ensure_group(kTopic, "g")).ok());
  }());
  bool consumed = false;
  std::chrono::steady_clock::duration waited{};
  asio::co_spawn(
      t.io,
      [&]() -> awaitable<void> {
        const auto start = std::chrono::steady_clock::now();
        auto got = co_await t.log->consume(kTopic, "g", "c", 10, 2000ms, 60s);
        waited = std::chrono::steady_clock::now() - start;
        EXPECT_TRUE(got.ok());
        EXPECT_EQ(got->size(), 1u);
        consumed = true;
      },
      asio::detached);
  run_coroutine(t.io, [&]() -> awaitable<void> {
    co_await test::sleep_for(100ms);  // the consumer is blocked by now
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 5; ++i) EXPECT_TRUE((co_await t.client->command("PING")).ok());
    EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
    EXPECT_FALSE(consumed);
    (void)co_await t.log->publish(kTopic, make_event(1));
    EXPECT_TRUE(co_await test::poll_until([&] { return consumed; }, 1900ms));
  }());
  EXPECT_LT(waited, 1500ms);
}

TEST(RedisStreamsEventLog, TrimRemovesOnlyWhatEveryGroupAcknowledged) {
  LogOnThread t(test::streams_config(1));
  run_coroutine(t.io, [&]() -> awaitable<void> {
    EXPECT_TRUE((co_await t.log->ensure_group(kTopic, "fast")).ok());
    EXPECT_TRUE((co_await t.log->ensure_group(kTopic, "slow")).ok());
    for (int i = 0; i < 10; ++i) (void)co_await t.log->publish(kTopic, make_event(i));
    auto fast = co_await drain(*t.log, "fast", "f", 10, true);
    EXPECT_EQ(fast.size(), 10u);
    auto slow = co_await t.log->consume(kTopic, "slow", "s", 6, 0ms, 60s);
    EXPECT_EQ(slow->size(), 6u);
    for (int i = 0; i < 3; ++i) (void)co_await t.log->ack("slow", (*slow)[i]);
    // "slow" acked 3, holds 3 pending and has 4 undelivered: only the first 3 may go.
    auto removed = co_await t.log->trim_acknowledged(kTopic);
    EXPECT_TRUE(removed.ok());
    EXPECT_EQ(*removed, 3);
    const auto stream = t.log->partitions(kTopic)[0];
    auto len = co_await t.client->command("XLEN", stream);
    EXPECT_EQ(len->integer, 7);
    // The pending ones are still there for a reclaim, the undelivered ones for a read.
    co_await test::sleep_for(150ms);
    auto rest = co_await t.log->consume(kTopic, "slow", "s2", 3, 0ms, 100ms);
    EXPECT_EQ(rest->size(), 3u);
    auto fresh = co_await t.log->consume(kTopic, "slow", "s2", 10, 0ms, 60s);
    EXPECT_EQ(fresh->size(), 4u);
    for (auto& d : *rest) EXPECT_FALSE(d.event.payload.empty());
  }());
}

// A big trim goes in steps: 350 acknowledged entries (stream nodes of up to 100 small entries)
// with trim_chunk 100 take at least 4 XTRIM calls, each removing at most 100, and all 350 go.
TEST(RedisStreamsEventLog, TrimGoesInBoundedStepsAndStillRemovesEverythingAcknowledged) {
  auto config = test::streams_config(1);
  config.trim_chunk = 100;
  LogOnThread t(config);
  run_coroutine(t.io, [&]() -> awaitable<void> {
    EXPECT_TRUE((co_await t.log->ensure_group(kTopic, "g")).ok());
    std::vector<Event> events;
    for (int i = 0; i < 350; ++i) events.push_back(make_event(i));
    EXPECT_TRUE((co_await t.log->publish_batch(kTopic, std::move(events))).ok());
    auto all = co_await drain(*t.log, "g", "c", 350, true);
    EXPECT_EQ(all.size(), 350u);
    auto calls = [&]() -> awaitable<std::int64_t> {
      auto info = co_await t.client->command("INFO", "commandstats");
      const std::string key = "cmdstat_xtrim:calls=";
      auto at = info ? info->str.find(key) : std::string::npos;
      co_return at == std::string::npos ? 0 : std::stoll(info->str.substr(at + key.size()));
    };
    const auto before = co_await calls();
    auto removed = co_await t.log->trim_acknowledged(kTopic);
    EXPECT_TRUE(removed.ok());
    EXPECT_EQ(*removed, 350);
    EXPECT_GE(co_await calls() - before, 4) << "one XTRIM per node of at most 100, then the rest";
    auto len = co_await t.client->command("XLEN", t.log->partitions(kTopic)[0]);
    EXPECT_EQ(len->integer, 0);
  }());
}

}  // namespace
}  // namespace fs::events
