// PostgreSQL client against a real server (fs::test::shared_postgres, or a private one where the
// test kills it). Each test runs its own io_context on the test thread.
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "io_runner.hpp"
#include "postgres/database_impl.hpp"
#include "support/scratch_dir.hpp"
#include "support/servers.hpp"

namespace fs::pg {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// Stores the outcome of one query so a test can spawn many and inspect them afterwards.
asio::awaitable<void> record(asio::awaitable<Result<Rows>> query,
                             std::optional<Result<Rows>>& outcome, int& finished) {
  outcome.emplace(co_await std::move(query));
  ++finished;
}

asio::awaitable<void> pause(std::chrono::milliseconds how_long) {
  asio::steady_timer timer(co_await asio::this_coro::executor, how_long);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

// Queries until the outcome is (or is not) an error, polling every 20 ms up to `limit`.
asio::awaitable<Result<Rows>> poll_query(Database& db, std::string sql, bool want_error,
                                         std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  for (;;) {
    auto result = co_await db.query(sql);
    if (result.ok() != want_error || Clock::now() > deadline) co_return result;
    co_await pause(20ms);
  }
}

class DatabaseTest : public ::testing::Test {
 protected:
  DatabaseConfig config(std::size_t connections = 4) {
    DatabaseConfig c;
    c.conninfo = test::shared_postgres().conninfo() + " application_name=" + app_name_;
    c.connections = connections;
    return c;
  }
  std::unique_ptr<Database> open(DatabaseConfig c) {
    return make_database(io_.get_executor(), std::move(c));
  }
  template <class T>
  T run(asio::awaitable<T> task) {
    return test::run_until_done(io_, std::move(task));
  }

  asio::io_context io_;  // declared first: every Database is destroyed before it
  std::string app_name_ = test::unique_name("pgtest");
};

TEST_F(DatabaseTest, CreateInsertSelectWithNulls) {
  auto db = open(config());
  const std::string table = test::unique_name("items");
  auto created = run(db->execute_script("CREATE TABLE " + table +
                                        " (id int PRIMARY KEY, name text, note text);"
                                        "CREATE INDEX ON " +
                                        table + " (name);"));
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_TRUE(db->healthy());

  const std::string insert = "INSERT INTO " + table + " (id, name, note) VALUES ($1, $2, $3)";
  auto first = run(db->query(insert, {"1", "alice", std::nullopt}));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->affected(), 1);
  EXPECT_EQ(first->columns(), 0u);
  auto second = run(db->query(insert, {"2", std::nullopt, ""}));
  ASSERT_TRUE(second.ok()) << second.error().message;

  auto rows = run(db->query("SELECT id, name, note FROM " + table + " ORDER BY id"));
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  ASSERT_EQ(rows->size(), 2u);
  ASSERT_EQ(rows->columns(), 3u);
  EXPECT_EQ(rows->affected(), 2);  // SELECT's command tag counts rows
  EXPECT_EQ(rows->get(0, "id"), "1");
  EXPECT_EQ(rows->get(0, "name"), "alice");
  EXPECT_FALSE(rows->is_null(0, 1));
  EXPECT_TRUE(rows->is_null(0, 2));
  EXPECT_EQ(rows->get(1, 0), "2");
  EXPECT_TRUE(rows->is_null(1, 1));
  EXPECT_FALSE(rows->is_null(1, 2));  // '' is not NULL
  EXPECT_EQ(rows->get(1, "note"), "");

  auto updated = run(db->query("UPDATE " + table + " SET note = $1", {"seen"}));
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(updated->affected(), 2);

  auto none = run(db->query("SELECT id FROM " + table + " WHERE id = $1", {"99"}));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(none->column("id"), 0);
}

TEST_F(DatabaseTest, SqlErrorsAreMappedAndTheConnectionStaysUsable) {
  auto db = open(config(1));  // one connection: every query below reuses it
  const std::string table = test::unique_name("uniq");
  ASSERT_TRUE(run(db->execute_script("CREATE TABLE " + table + " (id int PRIMARY KEY)")).ok());
  const std::string insert = "INSERT INTO " + table + " (id) VALUES ($1)";
  ASSERT_TRUE(run(db->query(insert, {"7"})).ok());

  auto duplicate = run(db->query(insert, {"7"}));
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.code(), Errc::unique_violation);
  EXPECT_NE(duplicate.error().message.find("23505"), std::string::npos);

  auto missing = run(db->query("SELECT * FROM no_such_table_" + table));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.code(), Errc::backend_error);
  EXPECT_EQ(missing.error().message.rfind("42P01: ", 0), 0u) << missing.error().message;

  auto bad_param = run(db->query("SELECT $1::int", {"not a number"}));
  ASSERT_FALSE(bad_param.ok());
  EXPECT_EQ(bad_param.code(), Errc::backend_error);
  EXPECT_NE(bad_param.error().message.find("22P02"), std::string::npos);

  auto script = run(db->execute_script("SELECT 1; SELEC 2;"));
  ASSERT_FALSE(script.ok());
  EXPECT_NE(script.error().message.find("42601"), std::string::npos);

  auto after = run(db->query("SELECT count(*) FROM " + table));
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(after->get(0, 0), "1");
}

TEST_F(DatabaseTest, PreparedStatementsAreReusedAndTheCacheIsBounded) {
  auto db = open(config(1));  // one connection, so pg_prepared_statements shows all of them
  const std::string count = "SELECT count(*) FROM pg_prepared_statements";
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(run(db->query("SELECT $1::int", {"1"})).ok());
  auto few = run(db->query(count));
  ASSERT_TRUE(few.ok()) << few.error().message;
  EXPECT_EQ(few->get(0, 0), "2");  // "SELECT $1::int" once, and the count query itself

  // SQL text built at run time: past the cap the statements are no longer kept.
  for (int i = 0; i < 1100; ++i) {
    auto one = run(db->query("SELECT " + std::to_string(i) + " AS n"));
    ASSERT_TRUE(one.ok()) << one.error().message;
    ASSERT_EQ(one->get(0, "n"), std::to_string(i));
  }
  auto many = run(db->query(count));
  ASSERT_TRUE(many.ok()) << many.error().message;
  EXPECT_EQ(many->get(0, 0), "1024");
}

TEST_F(DatabaseTest, FiveHundredConcurrentQueriesOverAPoolOfFour) {
  constexpr int kQueries = 500;
  auto db = open(config(4));
  ASSERT_TRUE(run(db->query("SELECT 1")).ok());

  // Two rounds: the first also prepares the statement on each connection, the second is warm.
  for (int round = 0; round < 2; ++round) {
    std::vector<std::optional<Result<Rows>>> outcomes(kQueries);
    int finished = 0;
    const auto start = Clock::now();
    for (int i = 0; i < kQueries; ++i) {
      asio::co_spawn(io_,
                     record(db->query("SELECT $1::int * 2 AS doubled, pg_backend_pid() AS pid",
                                      {std::to_string(i)}),
                            outcomes[i], finished),
                     asio::detached);
    }
    ASSERT_TRUE(test::run_until(
        io_, [&] { return finished == kQueries; }, 30s));
    const auto elapsed = Clock::now() - start;

    std::set<std::string> backends;
    for (int i = 0; i < kQueries; ++i) {
      const auto& outcome = *outcomes[i];
      ASSERT_TRUE(outcome.ok()) << i << ": " << outcome.error().message;
      ASSERT_EQ(outcome->size(), 1u);
      EXPECT_EQ(outcome->get(0, "doubled"), std::to_string(2 * i));
      backends.insert(std::string(outcome->get(0, "pid")));
    }
    EXPECT_LE(backends.size(), 4u);
    const double seconds = std::chrono::duration<double>(elapsed).count();
    std::printf("[ perf ] round %d: %d concurrent queries over 4 connections in %.1f ms = %.0f/s\n",
                round, kQueries, seconds * 1000.0, kQueries / seconds);
    RecordProperty("queries_per_second_round" + std::to_string(round),
                   std::to_string(static_cast<long>(kQueries / seconds)));
  }

  // The pool holds exactly its four sessions. pg_stat_activity lags behind a session that is
  // still starting up or already exiting, so the count is polled for a while before it fails.
  std::string count;
  for (int attempt = 0; attempt < 50 && count != "4"; ++attempt) {
    if (attempt) std::this_thread::sleep_for(100ms);
    auto sessions = run(db->query(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", {app_name_}));
    ASSERT_TRUE(sessions.ok()) << sessions.error().message;
    count = std::string(sessions->get(0, 0));
  }
  EXPECT_EQ(count, "4");
}

TEST_F(DatabaseTest, WaitersBeyondMaxWaitersAreOverloaded) {
  constexpr int kQueries = 40;
  auto c = config(1);
  c.max_waiters = 5;
  auto db = open(c);
  ASSERT_TRUE(run(db->query("SELECT 1")).ok());

  std::vector<std::optional<Result<Rows>>> outcomes(kQueries);
  int finished = 0;
  for (int i = 0; i < kQueries; ++i) {
    asio::co_spawn(io_,
                   record(db->query("SELECT $1::int", {std::to_string(i)}), outcomes[i], finished),
                   asio::detached);
  }
  ASSERT_TRUE(test::run_until(
      io_, [&] { return finished == kQueries; }, 30s));
  int ok = 0;
  int overloaded = 0;
  for (int i = 0; i < kQueries; ++i) {
    const auto& outcome = *outcomes[i];
    if (outcome.ok()) {
      ++ok;
      EXPECT_EQ(outcome->get(0, 0), std::to_string(i));
    } else {
      EXPECT_EQ(outcome.code(), Errc::overloaded) << outcome.error().message;
      ++overloaded;
    }
  }
  EXPECT_EQ(ok + overloaded, kQueries);
  EXPECT_GE(ok, 6);  // the connection's holder plus max_waiters
  EXPECT_GE(overloaded, 1);
}

// Commit::deferred commits like a durable transaction, with synchronous_commit off for that
// transaction only (SET LOCAL): the same pooled connection is back to the server's setting after.
TEST_F(DatabaseTest, DeferredCommitTransactionCommitsWithoutChangingTheConnection) {
  auto db = open(config(1));  // one connection: every statement below runs on it
  const std::string table = test::unique_name("deferred");
  ASSERT_TRUE(run(db->execute_script("CREATE TABLE " + table + " (id int PRIMARY KEY)")).ok());
  int next_id = 0;
  auto setting_in = [&](Database::Commit commit, bool fail) {
    std::string seen;
    const int id = ++next_id;
    auto st = run(db->transaction(
        [&](Session& session) -> asio::awaitable<Status> {
          std::vector<Param> p{std::to_string(id)};
          auto inserted =
              co_await session.query("INSERT INTO " + table + " (id) VALUES ($1)", std::move(p));
          if (!inserted) co_return std::move(inserted).error();
          auto shown = co_await session.query("SELECT current_setting('synchronous_commit')");
          if (!shown) co_return std::move(shown).error();
          seen = shown->get(0, 0);
          if (fail) co_return Error{Errc::invalid_state, "rolled back on purpose"};
          co_return Status{};
        },
        commit));
    EXPECT_EQ(st.ok(), !fail) << (st ? "" : st.error().message);
    return seen;
  };
  EXPECT_EQ(setting_in(Database::Commit::deferred, false), "off");
  EXPECT_EQ(setting_in(Database::Commit::durable, false), "on");  // SET LOCAL ended with COMMIT
  EXPECT_EQ(setting_in(Database::Commit::deferred, true), "off");
  EXPECT_EQ(setting_in(Database::Commit::durable, false), "on");  // ...and with ROLLBACK
  auto outside = run(db->query("SELECT current_setting('synchronous_commit')"));
  ASSERT_TRUE(outside.ok());
  EXPECT_EQ(outside->get(0, 0), "on");
  auto rows = run(db->query("SELECT string_agg(id::text, ',' ORDER BY id) FROM " + table));
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->get(0, 0), "1,2,4");  // the rolled-back transaction's row 3 is gone
}

TEST_F(DatabaseTest, TransactionCommitsAndRollsBack) {
  auto db = open(config(2));
  const std::string table = test::unique_name("tx");
  ASSERT_TRUE(run(db->execute_script(
                      "CREATE TABLE " + table +
                      " (id int PRIMARY KEY, v int, UNIQUE (v) DEFERRABLE INITIALLY DEFERRED)"))
                  .ok());
  const std::string insert = "INSERT INTO " + table + " (id, v) VALUES ($1, $2)";
  const std::string count = "SELECT count(*) FROM " + table;
  auto rows_now = [&] {
    auto counted = run(db->query(count));
    return counted.ok() ? std::string(counted->get(0, 0)) : counted.error().message;
  };

  // Commit: both rows persist; the session sees its own uncommitted rows (same connection).
  std::string seen_inside;
  auto committed = run(db->transaction([&](Session& session) -> asio::awaitable<Status> {
    for (int id = 1; id <= 2; ++id) {
      std::vector<Param> inserted_params{std::to_string(id), std::to_string(id)};
      auto inserted = co_await session.query(insert, std::move(inserted_params));
      if (!inserted) co_return std::move(inserted).error();
    }
    auto counted = co_await session.query(count);
    if (!counted) co_return std::move(counted).error();
    seen_inside = counted->get(0, 0);
    co_return Status{};
  }));
  ASSERT_TRUE(committed.ok()) << committed.error().message;
  EXPECT_EQ(seen_inside, "2");
  EXPECT_EQ(rows_now(), "2");

  // fn fails: its insert is rolled back and its error is returned as is.
  auto failed = run(db->transaction([&](Session& session) -> asio::awaitable<Status> {
    std::vector<Param> inserted_params{"3", "3"};
    auto inserted = co_await session.query(insert, std::move(inserted_params));
    if (!inserted) co_return std::move(inserted).error();
    co_return Error{Errc::invalid_state, "changed my mind"};
  }));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.code(), Errc::invalid_state);
  EXPECT_EQ(rows_now(), "2");

  // A failing statement inside fn: its error comes back, earlier statements are rolled back.
  auto conflict = run(db->transaction([&](Session& session) -> asio::awaitable<Status> {
    std::vector<Param> inserted_params{"4", "4"};
    auto inserted = co_await session.query(insert, std::move(inserted_params));
    if (!inserted) co_return std::move(inserted).error();
    std::vector<Param> duplicate_params{"1", "5"};
    auto duplicate = co_await session.query(insert, std::move(duplicate_params));
    if (!duplicate) co_return std::move(duplicate).error();
    co_return Status{};
  }));
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.code(), Errc::unique_violation);
  EXPECT_EQ(rows_now(), "2");

  // fn ignores a failed statement and returns success: COMMIT would be a silent ROLLBACK.
  auto swallowed = run(db->transaction([&](Session& session) -> asio::awaitable<Status> {
    std::vector<Param> inserted_params{"5", "5"};
    auto inserted = co_await session.query(insert, std::move(inserted_params));
    if (!inserted) co_return std::move(inserted).error();
    std::vector<Param> ignored_params{"1", "6"};
    auto ignored = co_await session.query(insert, std::move(ignored_params));
    EXPECT_FALSE(ignored.ok());
    co_return Status{};
  }));
  ASSERT_FALSE(swallowed.ok());
  EXPECT_EQ(swallowed.code(), Errc::backend_error);
  EXPECT_EQ(rows_now(), "2");

  // The deferred constraint only fires at COMMIT: that failure is mapped too.
  auto at_commit = run(db->transaction([&](Session& session) -> asio::awaitable<Status> {
    for (int id = 6; id <= 7; ++id) {
      std::vector<Param> inserted_params{std::to_string(id), "1"};
      auto inserted = co_await session.query(insert, std::move(inserted_params));
      if (!inserted) co_return std::move(inserted).error();
    }
    co_return Status{};
  }));
  ASSERT_FALSE(at_commit.ok());
  EXPECT_EQ(at_commit.code(), Errc::unique_violation) << at_commit.error().message;
  EXPECT_EQ(rows_now(), "2");

  // Connections went back to the pool clean: plain queries still work on both.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(rows_now(), "2");
}

TEST_F(DatabaseTest, QueryTimeoutDiscardsTheConnectionAndThePoolCarriesOn) {
  auto c = config(1);  // one connection: the next query needs its replacement
  c.query_timeout = 200ms;
  auto db = open(c);
  ASSERT_TRUE(run(db->query("SELECT 1")).ok());

  const auto start = Clock::now();
  auto slow = run(db->query("SELECT pg_sleep(2)"));
  const auto elapsed = since(start);
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.code(), Errc::timeout) << slow.error().message;
  EXPECT_GE(elapsed, 190ms);
  EXPECT_LT(elapsed, 300ms);

  auto after = run(db->query("SELECT $1::int + 1", {"41"}));
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(after->get(0, 0), "42");

  // A timeout inside a transaction fails the transaction; the pool still recovers.
  auto tx = run(db->transaction([](Session& session) -> asio::awaitable<Status> {
    auto slept = co_await session.query("SELECT pg_sleep(2)");
    if (!slept) co_return std::move(slept).error();
    co_return Status{};
  }));
  ASSERT_FALSE(tx.ok());
  EXPECT_EQ(tx.code(), Errc::timeout);
  auto again = run(db->query("SELECT 'still here'"));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->get(0, 0), "still here");
}

TEST_F(DatabaseTest, DestroyingTheDatabaseCancelsSuspendedCallers) {
  auto c = config(1);
  c.query_timeout = 10s;
  auto db = open(c);
  ASSERT_TRUE(run(db->query("SELECT 1")).ok());

  constexpr int kCallers = 3;  // one on the connection, two queued for it
  std::vector<std::optional<Result<Rows>>> outcomes(kCallers);
  int finished = 0;
  for (int i = 0; i < kCallers; ++i) {
    asio::co_spawn(io_, record(db->query("SELECT pg_sleep(5)"), outcomes[i], finished),
                   asio::detached);
  }
  io_.restart();
  io_.poll();  // every caller is now suspended
  ASSERT_EQ(finished, 0);

  const auto start = Clock::now();
  db.reset();
  ASSERT_TRUE(test::run_until(
      io_, [&] { return finished == kCallers; }, 5s));
  EXPECT_LT(since(start), 1000ms);
  for (const auto& outcome : outcomes) {
    ASSERT_FALSE(outcome->ok());
    EXPECT_EQ(outcome->code(), Errc::cancelled) << outcome->error().message;
  }
}

TEST_F(DatabaseTest, ClosedDatabaseAnswersCancelled) {
  auto db = open(config(2));
  ASSERT_TRUE(run(db->query("SELECT 1")).ok());
  EXPECT_TRUE(db->healthy());
  db->close();
  EXPECT_FALSE(db->healthy());
  auto after = run(db->query("SELECT 1"));
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.code(), Errc::cancelled);
  auto tx = run(db->transaction([](Session&) -> asio::awaitable<Status> { co_return Status{}; }));
  EXPECT_EQ(tx.code(), Errc::cancelled);
}

TEST_F(DatabaseTest, UnreachableServerFailsFast) {
  DatabaseConfig c;
  c.conninfo = "host=127.0.0.1 port=" + std::to_string(stack::free_port()) +
               " dbname=x user=x connect_timeout=1";
  c.connections = 2;
  auto db = open(c);
  // The very first callers wait for the first connect attempt; it fails at once.
  auto first = run(db->query("SELECT 1"));
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.code(), Errc::unavailable);
  for (int i = 0; i < 5; ++i) {
    const auto start = Clock::now();
    auto again = run(db->query("SELECT 1"));
    EXPECT_EQ(again.code(), Errc::unavailable);
    EXPECT_LT(since(start), 50ms);
  }
  EXPECT_FALSE(db->healthy());
}

// Owns its server because it kills it.
TEST(DatabaseFailoverTest, KilledServerFailsFastThenThePoolRecoversByItself) {
  test::ScratchDir dir("flashsale-pg-kill");
  stack::PostgresOptions options;
  options.dir = dir.path() / "pgdata";
  auto started = stack::PostgresServer::start(options);
  ASSERT_TRUE(started.ok()) << started.error().message;
  auto& server = **started;

  asio::io_context io;
  DatabaseConfig c;
  c.conninfo = server.conninfo();
  c.connections = 4;
  c.connect_timeout = 1000ms;
  c.reconnect_backoff_max = 200ms;
  auto db = make_database(io.get_executor(), c);
  auto run = [&io](auto task) { return test::run_until_done(io, std::move(task)); };
  ASSERT_TRUE(run(db->query("SELECT 1")).ok());

  server.kill();
  const auto killed = Clock::now();
  // Orphaned backends may still answer for a moment; then the pool must notice.
  auto failed = run(poll_query(*db, "SELECT 1", /*want_error=*/true, 10s));
  std::printf("[ info ] first failure %lld ms after the kill\n",
              static_cast<long long>(since(killed).count()));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.code(), Errc::unavailable) << failed.error().message;

  for (int i = 0; i < 20; ++i) {
    const auto start = Clock::now();
    auto down = run(db->query("SELECT 1"));
    ASSERT_FALSE(down.ok());
    EXPECT_EQ(down.code(), Errc::unavailable) << down.error().message;
    EXPECT_LT(since(start), 100ms);
  }
  EXPECT_TRUE(test::run_until(
      io, [&] { return !db->healthy(); }, 5s));

  const auto restarting = Clock::now();
  ASSERT_TRUE(server.restart().ok());
  std::printf("[ info ] PostgresServer::restart took %lld ms\n",
              static_cast<long long>(since(restarting).count()));
  const auto restarted = Clock::now();
  auto recovered = run(poll_query(*db, "SELECT 1", /*want_error=*/false, 15s));
  ASSERT_TRUE(recovered.ok()) << recovered.error().message;
  std::printf("[ info ] pool recovered %lld ms after the server accepted connections again\n",
              static_cast<long long>(since(restarted).count()));
  EXPECT_TRUE(db->healthy());
  for (int i = 0; i < 10; ++i) {
    auto up = run(db->query("SELECT $1::int", {std::to_string(i)}));
    ASSERT_TRUE(up.ok()) << up.error().message;
    EXPECT_EQ(up->get(0, 0), std::to_string(i));
  }
  db.reset();
}

}  // namespace
}  // namespace fs::pg
