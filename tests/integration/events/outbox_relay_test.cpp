// OutboxRelay against real PostgreSQL and Redis: committed rows are published at least once and
// deleted; rolled-back rows never are; a relay that fails between publish and delete publishes
// again (duplicates, nothing lost); relays racing on two threads publish every row exactly once.
#include "events/outbox_relay.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "app/migrations.hpp"
#include "events_test_env.hpp"
#include "metrics/outbox_metrics.hpp"
#include "postgres/database_impl.hpp"
#include "stack/local_servers.hpp"
#include "support/run_coroutine.hpp"
#include "support/scratch_dir.hpp"

namespace fs::events {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using asio::awaitable;
using test::run_coroutine;
using test::run_until;

constexpr const char* kTopic = "reservations";

// One thread's set of backends: Redis client + log, PostgreSQL pool.
struct Node : test::LogOnThread {
  Node(const StreamsConfig& sc, const std::string& conninfo)
      : LogOnThread(sc),
        db(pg::make_database(io.get_executor(), test::database_config(conninfo, 3))) {}
  ~Node() { db->close(); }
  std::unique_ptr<pg::Database> db;
};

std::string fresh_schema() {
  auto conninfo = test::fresh_database(test::shared_postgres());
  asio::io_context io;
  auto db = pg::make_database(io.get_executor(), test::database_config(conninfo, 3));
  auto st = run_coroutine(io, app::apply_migrations(*db));
  EXPECT_TRUE(st.ok()) << (st ? "" : st.error().message);
  db->close();
  return conninfo;
}

// Inserts one outbox row per key, each in its own transaction beside a state change (a row of a
// scratch table), or rolled back when `commit` is false.
awaitable<void> produce(pg::Database& db, std::vector<std::string> keys, bool commit) {
  for (auto& key : keys) {
    std::function<awaitable<Status>(pg::Session&)> fn =
        [&key, commit](pg::Session& s) -> awaitable<Status> {
      std::vector<pg::Param> p1{key};
      auto a = co_await s.query("INSERT INTO state_changes (k) VALUES ($1)", std::move(p1));
      if (!a) co_return std::move(a).error();
      std::vector<pg::Param> p2{key, "{\"reservation_id\":\"" + key + "\"}"};
      auto b = co_await s.query(
          "INSERT INTO outbox (topic, event_key, event_type, payload) "
          "VALUES ('reservations', $1, 'reservation.created', $2)",
          std::move(p2));
      if (!b) co_return std::move(b).error();
      if (!commit) co_return Error{Errc::invalid_state, "rolled back on purpose"};
      co_return Status{};
    };
    auto st = co_await db.transaction(std::move(fn));
    EXPECT_EQ(st.ok(), commit) << (st ? "" : st.error().message);
  }
}

awaitable<void> create_scratch_table(pg::Database& db) {
  auto st =
      co_await db.execute_script("CREATE TABLE IF NOT EXISTS state_changes (k text PRIMARY KEY)");
  EXPECT_TRUE(st.ok());
}

// Every event on the topic, read by a fresh group from the beginning.
std::vector<Delivery> read_all(test::LogOnThread& t, std::size_t at_least) {
  const std::string group = test::unique_name("audit");
  return run_coroutine(t.io, [&]() -> awaitable<std::vector<Delivery>> {
    EXPECT_TRUE((co_await t.log->ensure_group(kTopic, group)).ok());
    std::vector<Delivery> all;
    const auto until = std::chrono::steady_clock::now() + 10s;
    for (;;) {
      auto got = co_await t.log->consume(kTopic, group, "a", 1000, 100ms, 60s);
      EXPECT_TRUE(got.ok());
      if (!got) break;
      if (got->empty() && (all.size() >= at_least || std::chrono::steady_clock::now() > until))
        break;
      for (auto& d : *got) all.push_back(std::move(d));
    }
    co_return all;
  }());
}

std::int64_t outbox_rows(Node& n) {
  return run_coroutine(n.io, [&]() -> awaitable<std::int64_t> {
    auto r = co_await n.db->query("SELECT count(*) FROM outbox");
    EXPECT_TRUE(r.ok());
    co_return r ? std::stoll(std::string(r->get(0, 0))) : -1;
  }());
}

// relay.run() on `io`, as a relay role runs it; stop() ends it.
class RunningRelay {
 public:
  RunningRelay(asio::io_context& io, OutboxRelay& relay) : io_(io), relay_(relay) {
    asio::co_spawn(
        io_,
        [this]() -> awaitable<void> {
          co_await relay_.run();
          finished_ = true;
        },
        asio::detached);
  }
  // Asks the relay to stop and waits (running io) until its run() returned.
  bool stop() {
    relay_.stop();
    return run_until(
        io_, [this] { return finished_; }, 5s);
  }

 private:
  asio::io_context& io_;
  OutboxRelay& relay_;
  bool finished_ = false;
};

std::vector<std::string> keys(const std::string& prefix, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

TEST(OutboxRelay, PublishesCommittedRowsOnceAndNeverRolledBackOnes) {
  metrics::MetricsRegistry registry;
  metrics::OutboxMetrics metrics(registry);
  Node n(test::streams_config(4), fresh_schema());
  run_coroutine(n.io, create_scratch_table(*n.db));
  run_coroutine(n.io, produce(*n.db, keys("ok-", 120), true));
  run_coroutine(n.io, produce(*n.db, keys("rolled-back-", 5), false));
  run_coroutine(n.io, produce(*n.db, keys("ok2-", 30), true));
  EXPECT_EQ(outbox_rows(n), 150);

  OutboxRelayConfig rc;
  rc.batch = 64;
  OutboxRelay relay(*n.db, *n.log, rc, &metrics);
  std::size_t total = 0;
  for (int round = 0; round < 10; ++round) {
    auto r = run_coroutine(n.io, relay.relay_once());
    ASSERT_TRUE(r.ok()) << r.error().message;
    total += *r;
  }
  EXPECT_EQ(total, 150u);
  EXPECT_EQ(outbox_rows(n), 0);

  auto all = read_all(n, 150);
  std::set<std::string> distinct;
  for (const auto& d : all) {
    distinct.insert(d.event.key);
    EXPECT_EQ(d.event.type, types::reservation_created);
    EXPECT_EQ(d.event.payload, "{\"reservation_id\":\"" + d.event.key + "\"}");
    EXPECT_EQ(d.event.key.rfind("rolled-back-", 0), std::string::npos);
  }
  EXPECT_EQ(all.size(), 150u);
  EXPECT_EQ(distinct.size(), 150u);
  EXPECT_NE(registry.serialize().find("flashsale_outbox_published_total 150"), std::string::npos);
}

// After a backlog the relay clears what its deletes left (VACUUM, once caught up and only after
// vacuum_after rows); the backlog gauge is the span of waiting ids, without counting rows.
TEST(OutboxRelay, CaughtUpAfterABacklogItVacuumsTheOutbox) {
  metrics::MetricsRegistry registry;
  metrics::OutboxMetrics metrics(registry);
  Node n(test::streams_config(2), fresh_schema());
  run_coroutine(n.io, create_scratch_table(*n.db));
  run_coroutine(n.io, produce(*n.db, keys("v-", 300), true));
  auto last_vacuum = [&n] {
    return run_coroutine(n.io, [&]() -> awaitable<std::string> {
      auto r = co_await n.db->query(
          "SELECT coalesce(last_vacuum::text, '') FROM pg_stat_user_tables WHERE relname = "
          "'outbox'");
      EXPECT_TRUE(r.ok() && r->size() == 1);
      co_return r && r->size() == 1 ? std::string(r->get(0, 0)) : std::string("error");
    }());
  };
  ASSERT_EQ(last_vacuum(), "");

  OutboxRelayConfig rc;
  rc.batch = 64;
  rc.poll_interval = 5ms;
  rc.backlog_interval = 1h;  // the gauge is read once, before the first round
  rc.vacuum_after = 200;
  OutboxRelay relay(*n.db, *n.log, rc, &metrics);
  RunningRelay running(n.io, relay);
  ASSERT_TRUE(run_until(
      n.io, [&] { return relay.published() == 300 && relay.vacuums() == 1; }, 20s));
  EXPECT_NE(registry.serialize().find("flashsale_outbox_backlog_rows 300"), std::string::npos);
  EXPECT_NE(registry.serialize().find("flashsale_outbox_vacuum_duration_seconds_count 1"),
            std::string::npos);
  // PostgreSQL's own record of a manual VACUUM (autovacuum would set last_autovacuum instead).
  std::string vacuumed;
  for (int i = 0; i < 50 && (vacuumed = last_vacuum()).empty(); ++i)
    std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(vacuumed.empty());

  // Idle: the relay looks (one probe per poll_interval) but opens no transaction.
  run_until(
      n.io, [] { return false; }, 100ms);  // the round that found the outbox empty is done
  const auto idle_rounds = relay.rounds();
  run_until(
      n.io, [] { return false; }, 300ms);  // ~60 polls at 5 ms
  EXPECT_EQ(relay.rounds(), idle_rounds);

  // Fewer deletes than vacuum_after since: caught up again, no second vacuum. The rows produced
  // while idle are seen by the probe and published.
  run_coroutine(n.io, produce(*n.db, keys("w-", 100), true));
  ASSERT_TRUE(run_until(
      n.io, [&] { return relay.published() == 400; }, 20s));
  run_until(
      n.io, [] { return false; }, 200ms);
  EXPECT_EQ(relay.vacuums(), 1);
  ASSERT_TRUE(running.stop());
  EXPECT_EQ(outbox_rows(n), 0);
}

// A log that publishes for real and then reports a failure, as if the relay died after XADD and
// before DELETE/COMMIT: the round rolls back and the rows are published again later.
class CrashAfterPublishLog final : public EventLog {
 public:
  CrashAfterPublishLog(EventLog& real, int crashes) : real_(real), crashes_(crashes) {}
  awaitable<Result<std::string>> publish(std::string topic, Event event) override {
    return real_.publish(std::move(topic), std::move(event));
  }
  awaitable<Result<std::vector<std::string>>> publish_batch(std::string topic,
                                                            std::vector<Event> events) override {
    auto ids = co_await real_.publish_batch(std::move(topic), std::move(events));
    if (ids && crashes_ > 0) {
      --crashes_;
      co_return Error{Errc::unavailable, "relay died before delete"};
    }
    co_return ids;
  }
  awaitable<Status> ensure_group(std::string topic, std::string group) override {
    return real_.ensure_group(std::move(topic), std::move(group));
  }
  awaitable<Result<std::vector<Delivery>>> consume(std::string topic, std::string group,
                                                   std::string consumer, std::size_t max,
                                                   std::chrono::milliseconds block,
                                                   std::chrono::milliseconds idle) override {
    return real_.consume(std::move(topic), std::move(group), std::move(consumer), max, block, idle);
  }
  awaitable<Status> ack(std::string group, Delivery d) override {
    return real_.ack(std::move(group), std::move(d));
  }
  awaitable<Result<GroupLag>> lag(std::string topic, std::string group) override {
    return real_.lag(std::move(topic), std::move(group));
  }

 private:
  EventLog& real_;
  int crashes_;
};

TEST(OutboxRelay, ARelayDyingBetweenPublishAndDeletePublishesAgainAndLosesNothing) {
  Node n(test::streams_config(2), fresh_schema());
  run_coroutine(n.io, create_scratch_table(*n.db));
  run_coroutine(n.io, produce(*n.db, keys("k-", 100), true));
  CrashAfterPublishLog crashing(*n.log, 2);
  OutboxRelayConfig rc;
  rc.batch = 40;
  rc.backoff_min = 5ms;
  rc.poll_interval = 5ms;
  OutboxRelay relay(*n.db, crashing, rc);
  RunningRelay running(n.io, relay);
  ASSERT_TRUE(run_until(
      n.io, [&] { return relay.published() == 100; }, 20s));
  ASSERT_TRUE(running.stop());
  EXPECT_EQ(outbox_rows(n), 0);
  auto all = read_all(n, 180);
  std::map<std::string, int> times;
  for (const auto& d : all) ++times[d.event.key];
  EXPECT_EQ(times.size(), 100u);  // nothing lost
  // The first two rounds took the same 40 oldest rows, published them and rolled back: those
  // rows went out three times, the other 60 once.
  EXPECT_EQ(all.size(), 180u);
  int thrice = 0, once = 0;
  for (auto& [k, c] : times) {
    thrice += c == 3;
    once += c == 1;
  }
  EXPECT_EQ(thrice, 40);
  EXPECT_EQ(once, 60);
}

TEST(OutboxRelay, TwoRelaysRacingPublishEveryRowExactlyOnce) {
  const auto conninfo = fresh_schema();
  const auto sc = test::streams_config(4);
  constexpr int kRows = 1500;
  std::atomic<bool> produced{false};
  std::atomic<std::int64_t> published{0};
  std::int64_t per_relay[2] = {0, 0};

  std::vector<std::thread> relays;
  for (int r = 0; r < 2; ++r) {
    relays.emplace_back([&, r] {
      Node n(sc, conninfo);
      OutboxRelayConfig rc;
      rc.batch = 50;
      rc.poll_interval = 1ms;
      OutboxRelay relay(*n.db, *n.log, rc);
      RunningRelay running(n.io, relay);
      std::int64_t seen = 0;
      run_until(
          n.io,
          [&] {
            published += relay.published() - seen;
            seen = relay.published();
            return produced.load() && published.load() >= kRows;
          },
          60s);
      running.stop();
      per_relay[r] = relay.published();
    });
  }
  {
    // Two producer coroutines on this thread, committing while the relays run.
    Node p(sc, conninfo);
    run_coroutine(p.io, create_scratch_table(*p.db));
    bool a = false, b = false;
    asio::co_spawn(
        p.io,
        [&]() -> awaitable<void> {
          co_await produce(*p.db, keys("a-", kRows / 2), true);
          a = true;
        },
        asio::detached);
    asio::co_spawn(
        p.io,
        [&]() -> awaitable<void> {
          co_await produce(*p.db, keys("b-", kRows / 2), true);
          b = true;
        },
        asio::detached);
    ASSERT_TRUE(run_until(
        p.io, [&] { return a && b; }, 60s));
    produced = true;
  }
  for (auto& t : relays) t.join();
  EXPECT_EQ(per_relay[0] + per_relay[1], kRows);
  EXPECT_GT(per_relay[0], 0);
  EXPECT_GT(per_relay[1], 0);

  Node check(sc, conninfo);
  EXPECT_EQ(outbox_rows(check), 0);
  auto all = read_all(check, kRows);
  std::set<std::string> distinct;
  for (const auto& d : all) distinct.insert(d.event.key);
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(kRows));
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kRows));
}

// The real thing: `flashsale worker --roles relay` processes SIGKILLed mid-stream, one after the
// other, while the outbox holds thousands of rows; a last one finishes. Every row is published
// (duplicates allowed), and the outbox ends empty.
TEST(OutboxRelay, RelayProcessesKilledWithSigkillLoseNothing) {
  const auto conninfo = fresh_schema();
  const auto sc = test::streams_config(4);
  constexpr int kRows = 3000;
  Node n(sc, conninfo);
  run_coroutine(n.io, create_scratch_table(*n.db));
  run_coroutine(n.io, produce(*n.db, keys("kill-", kRows), true));
  test::ScratchDir dir("flashsale-relay-kill");
  auto spawn = [&](int i) {
    stack::ChildProcess::Options o;
    o.argv = {FLASHSALE_BINARY,
              "worker",
              "--roles",
              "relay",
              "--redis",
              "127.0.0.1:" + std::to_string(test::shared_redis().port()),
              "--pg",
              conninfo,
              "--stream-prefix",
              sc.key_prefix,
              "--partitions",
              "4"};
    o.log_file = dir.path() / ("relay" + std::to_string(i) + ".log");
    auto p = stack::ChildProcess::spawn(o);
    EXPECT_TRUE(p.ok());
    return std::move(*p);
  };
  // Kill each relay as soon as it has made progress (rows published, maybe not yet deleted).
  std::int64_t last = kRows;
  for (int i = 0; i < 3; ++i) {
    auto relay = spawn(i);
    const auto start_len = last;
    ASSERT_TRUE(test::wait_until([&] { return outbox_rows(n) < start_len; }, 30s, 5ms));
    relay->kill();
    last = outbox_rows(n);
  }
  EXPECT_GT(last, 0) << "the relays were too fast to be killed mid-stream";
  auto finisher = spawn(9);
  ASSERT_TRUE(test::wait_until([&] { return outbox_rows(n) == 0; }, 60s));
  finisher->stop();
  auto all = read_all(n, kRows);
  std::set<std::string> distinct;
  for (const auto& d : all) distinct.insert(d.event.key);
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(kRows));
  EXPECT_GE(all.size(), static_cast<std::size_t>(kRows));
  std::cout << "relay kill: " << all.size() - kRows << " duplicates for " << kRows << " rows\n";
}

}  // namespace
}  // namespace fs::events
