// ConsumerLoop against a real redis-server: handled events are acked once; malformed and poison
// events are dead-lettered, counted and acked while the loop keeps going; transient failures are
// retried and, past max_deliveries, dead-lettered instead of looping forever.
#include "events/consumer_loop.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <map>
#include <set>

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

// GCC 12: an aggregate temporary inside a co_await expression is copied bytewise, so the Event
// is built here, in a named variable.
awaitable<void> publish(EventLog& log, std::string type, std::string key, std::string payload) {
  Event e{std::move(type), std::move(key), std::move(payload)};
  auto id = co_await log.publish(kTopic, std::move(e));
  EXPECT_TRUE(id.ok());
}

// A member "c1" of group "g" that polls without blocking and keeps no lag gauge: the batch tests
// drive poll_once() themselves.
ConsumerConfig batch_config(std::size_t batch, std::size_t concurrency,
                            std::chrono::milliseconds reclaim_idle) {
  ConsumerConfig cc;
  cc.topic = kTopic;
  cc.group = "g";
  cc.consumer = "c1";
  cc.batch = batch;
  cc.concurrency = concurrency;
  cc.block = 0ms;
  cc.reclaim_idle = reclaim_idle;
  cc.lag_interval = 0ms;
  return cc;
}

TEST(ConsumerLoop, DeadLettersMalformedAndPoisonEventsAndKeepsGoing) {
  metrics::MetricsRegistry registry;
  metrics::EventMetrics metrics(registry);
  auto config = test::streams_config(2);
  LogOnThread t(config, &metrics);

  std::map<std::string, int> handled;  // key -> times the handler succeeded
  int transient_calls = 0;
  ConsumerConfig cc;
  cc.topic = kTopic;
  cc.group = "g";
  cc.consumer = "c1";
  cc.block = 100ms;
  cc.reclaim_idle = 100ms;
  cc.max_deliveries = 3;
  cc.attempts = 2;
  cc.retry_backoff = 5ms;
  ConsumerLoop loop(
      *t.log, cc,
      [&](const Delivery& d) -> awaitable<Status> {
        if (d.event.key == "poison") co_return poison("cannot be handled");
        if (d.event.key == "flaky") {
          ++transient_calls;
          co_return Error{Errc::unavailable, "provider down"};
        }
        ++handled[d.event.key];
        co_return Status{};
      },
      &metrics);

  std::set<std::string> dlq_reasons;
  run_coroutine(t.io, [&]() -> awaitable<void> {
    EXPECT_TRUE((co_await t.log->ensure_group(kTopic, "g")).ok());
    const auto p0 = t.log->partitions(kTopic)[0];
    co_await publish(*t.log, types::reservation_created, "a", "{}");
    // Malformed entries written by hand: a missing payload, a payload that is not JSON, a type
    // nobody knows.
    (void)co_await t.client->command("XADD", p0, "*", "type", types::payment_failed, "key", "m1");
    (void)co_await t.client->command("XADD", p0, "*", "type", types::payment_failed, "key", "m2",
                                     "payload", "{not json");
    co_await publish(*t.log, "reservation.exploded", "m3", "{}");
    co_await publish(*t.log, types::payment_requested, "poison", "{}");
    co_await publish(*t.log, types::payment_requested, "flaky", "{}");
    co_await publish(*t.log, types::payment_succeeded, "b", "{\"x\":1}");
  }());

  asio::co_spawn(t.io, loop.run(), asio::detached);
  // Poll until the loop has dead-lettered all five bad ones and handled the good ones; then an
  // event published afterwards is still handled (the loop did not get stuck).
  ASSERT_TRUE(test::run_until(
      t.io, [&] { return loop.counts().dead_lettered == 5 && handled.size() == 2; }, 20s))
      << "dead-lettered " << loop.counts().dead_lettered << ", handled " << handled.size();
  run_coroutine(t.io, [&]() -> awaitable<void> {
    co_await publish(*t.log, types::order_confirmed, "c", "{}");
  }());
  ASSERT_TRUE(test::run_until(
      t.io, [&] { return handled.count("c") == 1; }, 10s));
  loop.stop();

  EXPECT_EQ(handled["a"], 1);
  EXPECT_EQ(handled["b"], 1);
  EXPECT_EQ(handled["c"], 1);
  // The flaky one: tried attempts times per delivery, max_deliveries deliveries, then dead.
  EXPECT_EQ(transient_calls, cc.attempts * static_cast<int>(cc.max_deliveries));

  run_coroutine(t.io, [&]() -> awaitable<void> {
    EXPECT_TRUE((co_await t.log->ensure_group(dead_letter_topic(kTopic), "audit")).ok());
    auto dead = co_await t.log->consume(dead_letter_topic(kTopic), "audit", "x", 100, 0ms, 60s);
    EXPECT_TRUE(dead.ok());
    EXPECT_EQ(dead->size(), 5u);
    for (const auto& d : *dead) {
      EXPECT_EQ(d.event.type, "dead_letter");
      auto v = boost::json::parse(d.event.payload).as_object();
      dlq_reasons.insert(std::string(v["reason"].as_string()) + ":" +
                         std::string(v["key"].as_string()));
    }
    auto lag = co_await t.log->lag(kTopic, "g");
    EXPECT_EQ(lag->pending, 0);  // everything acked, the bad ones too
    EXPECT_EQ(lag->undelivered, 0);
  }());
  EXPECT_EQ(dlq_reasons,
            (std::set<std::string>{"unparseable:m1", "unparseable:m2", "unknown_type:m3",
                                   "poison:poison", "too_many_deliveries:flaky"}));
  const auto text = registry.serialize();
  EXPECT_NE(text.find("flashsale_events_dead_lettered_total{group=\"g\",reason=\"unparseable\","
                      "topic=\"reservations\"} 2"),
            std::string::npos)
      << text;
}

// A handled batch is acked at once: one XACK per partition of the batch (not one per
// delivery), and nothing stays pending. The consumer also does not look for reclaimable entries
// on every poll (XAUTOCLAIM, one per partition): at most every reclaim_idle / 2.
TEST(ConsumerLoop, AcksAHandledBatchWithOneXackPerPartition) {
  auto config = test::streams_config(2);
  LogOnThread t(config);
  const ConsumerConfig cc = batch_config(64, 1, 60s);
  int handled = 0;
  ConsumerLoop loop(*t.log, cc, [&](const Delivery&) -> awaitable<Status> {
    ++handled;
    co_return Status{};
  });
  auto calls = [&](const std::string& command) -> awaitable<std::int64_t> {
    auto info = co_await t.client->command("INFO", "commandstats");
    EXPECT_TRUE(info.ok());
    const std::string key = "cmdstat_" + command + ":calls=";
    const auto at = info->str.find(key);
    if (at == std::string::npos) co_return 0;
    co_return std::stoll(info->str.substr(at + key.size()));
  };
  run_coroutine(t.io, [&]() -> awaitable<void> {
    EXPECT_TRUE((co_await t.log->ensure_group(kTopic, "g")).ok());
    for (int i = 0; i < 40; ++i)
      co_await publish(*t.log, types::reservation_created, "r" + std::to_string(i), "{}");
    (void)co_await t.client->command("CONFIG", "RESETSTAT");
    EXPECT_TRUE(co_await loop.poll_once());
    EXPECT_EQ(handled, 40);
    EXPECT_EQ(loop.counts().acked, 40);
    EXPECT_EQ(co_await calls("xack"), 2);  // two partitions, 40 deliveries
    auto lag = co_await t.log->lag(kTopic, "g");
    EXPECT_EQ(lag->pending, 0);
    EXPECT_EQ(lag->undelivered, 0);
    const auto claims = co_await calls("xautoclaim");
    EXPECT_EQ(claims, 2);  // the first poll looks, once per partition
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(co_await loop.poll_once());
    EXPECT_EQ(co_await calls("xautoclaim"), claims);  // not again within reclaim_idle / 2
  }());
}

// Slow handlers (a payment each) do not keep the batch's handled deliveries unacked until the
// batch ends: after min(reclaim_idle / 4, 1 s) the handled ones are acked, so none of them
// waits anywhere near reclaim_idle (when another member would take it again).
TEST(ConsumerLoop, SlowHandlersGetTheirDeliveriesAckedBeforeTheBatchEnds) {
  auto config = test::streams_config(1);
  LogOnThread t(config);
  const ConsumerConfig cc = batch_config(16, 1, 400ms);  // acks within 100 ms
  std::vector<std::int64_t> pending_at_entry;
  ConsumerLoop loop(*t.log, cc, [&](const Delivery&) -> awaitable<Status> {
    auto lag = co_await t.log->lag(kTopic, "g");
    pending_at_entry.push_back(lag.ok() ? lag->pending : -1);
    co_await test::sleep_for(150ms);
    co_return Status{};
  });
  run_coroutine(t.io, [&]() -> awaitable<void> {
    EXPECT_TRUE((co_await t.log->ensure_group(kTopic, "g")).ok());
    for (int i = 0; i < 5; ++i)
      co_await publish(*t.log, types::reservation_created, "s" + std::to_string(i), "{}");
    EXPECT_TRUE(co_await loop.poll_once());
  }());
  // One batch of 5; each delivery's predecessors were acked before it started.
  EXPECT_EQ(pending_at_entry, (std::vector<std::int64_t>{5, 4, 3, 2, 1}));
  EXPECT_EQ(loop.counts().acked, 5);
}

// concurrency > 1: the deliveries of different keys run side by side (up to the bound), those of
// one key one after the other in stream order, and the batch is acked once it is all handled.
TEST(ConsumerLoop, ConcurrentHandlersKeepEachKeysOrderAndTheBound) {
  auto config = test::streams_config(2);
  LogOnThread t(config);
  const ConsumerConfig cc = batch_config(64, 4, 60s);
  std::map<std::string, std::vector<int>> order;  // key -> payload sequence numbers, as handled
  std::set<std::string> active;
  int in_flight = 0, max_in_flight = 0, same_key_overlaps = 0;
  ConsumerLoop loop(*t.log, cc, [&](const Delivery& d) -> awaitable<Status> {
    if (!active.insert(d.event.key).second) ++same_key_overlaps;
    max_in_flight = std::max(max_in_flight, ++in_flight);
    const int seq = static_cast<int>(boost::json::parse(d.event.payload).at("seq").as_int64());
    asio::steady_timer wait(co_await asio::this_coro::executor);
    wait.expires_after(std::chrono::milliseconds(1 + (d.event.key.size() + seq) % 4));
    co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
    order[d.event.key].push_back(seq);
    --in_flight;
    active.erase(d.event.key);
    co_return Status{};
  });
  run_coroutine(t.io, [&]() -> awaitable<void> {
    EXPECT_TRUE((co_await t.log->ensure_group(kTopic, "g")).ok());
    for (int seq = 0; seq < 4; ++seq)
      for (int k = 0; k < 12; ++k)
        co_await publish(*t.log, types::reservation_created, "key-" + std::to_string(k),
                         "{\"seq\":" + std::to_string(seq) + "}");
    EXPECT_TRUE(co_await loop.poll_once());
    auto lag = co_await t.log->lag(kTopic, "g");
    EXPECT_EQ(lag->pending, 0);
    EXPECT_EQ(lag->undelivered, 0);
  }());
  EXPECT_EQ(loop.counts().acked, 48);
  EXPECT_EQ(order.size(), 12u);
  for (const auto& [key, seqs] : order) EXPECT_EQ(seqs, (std::vector<int>{0, 1, 2, 3})) << key;
  EXPECT_EQ(same_key_overlaps, 0);
  EXPECT_EQ(max_in_flight, 4);
}

// concurrency > 1 with slow handlers: handled deliveries are acked within min(reclaim_idle / 4,
// 1 s) while the chains go on, and the loop sleeps while it waits (no busy polling of a timer
// that has already expired).
TEST(ConsumerLoop, ConcurrentSlowHandlersAreAckedOnTimeWithoutSpinning) {
  auto config = test::streams_config(1);
  LogOnThread t(config);
  const ConsumerConfig cc = batch_config(16, 2, 400ms);               // acks within 100 ms
  std::map<std::string, std::vector<std::int64_t>> pending_at_entry;  // per key, per delivery
  ConsumerLoop loop(*t.log, cc, [&](const Delivery& d) -> awaitable<Status> {
    auto lag = co_await t.log->lag(kTopic, "g");
    pending_at_entry[d.event.key].push_back(lag.ok() ? lag->pending : -1);
    co_await test::sleep_for(300ms);
    co_return Status{};
  });
  rusage before{}, after{};
  run_coroutine(t.io, [&]() -> awaitable<void> {
    EXPECT_TRUE((co_await t.log->ensure_group(kTopic, "g")).ok());
    for (int i = 0; i < 3; ++i)
      for (const char* key : {"k0", "k1"})
        co_await publish(*t.log, types::reservation_created, key, "{}");
    getrusage(RUSAGE_THREAD, &before);
    EXPECT_TRUE(co_await loop.poll_once());
    getrusage(RUSAGE_THREAD, &after);
  }());
  EXPECT_EQ(loop.counts().acked, 6);
  // Two chains of three, 300 ms per delivery: at the third deliveries' start (~600 ms) the first
  // two of each key (handled at ~300 ms) have been acked; with acks only at the batch's end all
  // six would still be pending.
  for (const char* key : {"k0", "k1"}) {
    ASSERT_EQ(pending_at_entry[key].size(), 3u) << key;
    EXPECT_EQ(pending_at_entry[key][0], 6) << key;
    EXPECT_LE(pending_at_entry[key][2], 4) << key;
  }
  // About 900 ms of waiting: a loop that spun on an expired timer would burn most of it.
  const auto cpu_us = [](const rusage& r) {
    return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1'000'000LL + r.ru_utime.tv_usec +
           r.ru_stime.tv_usec;
  };
  EXPECT_LT(cpu_us(after) - cpu_us(before), 200'000) << "CPU while waiting for slow handlers";
}

}  // namespace
}  // namespace fs::events
