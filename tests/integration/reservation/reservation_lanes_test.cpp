// Insert lanes (ReservationStore + InsertLanes) against a real PostgreSQL: two I/O threads, each
// with its own store and pool; a reservation is committed by the lane of its shard, whatever
// thread asked, and the caller resumes on its own thread with the ledger's answer.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <map>
#include <thread>

#include "app/migrations.hpp"
#include "catalog/product_store.hpp"
#include "common/random.hpp"
#include "metrics/backend_metrics.hpp"
#include "metrics/metrics_registry.hpp"
#include "postgres/database_impl.hpp"
#include "reservation/reservation_store.hpp"
#include "support/run_coroutine.hpp"
#include "support/servers.hpp"

namespace fs::reservation {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// One I/O thread: its io_context, pool and store.
struct Lane {
  Lane(const std::string& conninfo, metrics::BackendMetrics& m, std::size_t sublanes = 1)
      : db(pg::make_database(io.get_executor(), test::database_config(conninfo, 2))),
        store(io.get_executor(), *db, m, sublanes) {}
  void start() {
    thread = std::thread([this] { io.run(); });
  }
  void stop() {
    asio::post(io, asio::use_future([this] { db->close(); })).wait();
    work.reset();
    io.stop();
    if (thread.joinable()) thread.join();
  }
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::unique_ptr<pg::Database> db;
  ReservationStore store;
  std::thread thread;
};

struct Outcome {
  std::int64_t shard = 0;
  Status status;
  std::thread::id resumed_on;
};

asio::awaitable<void> insert_one(ReservationStore& store, Reservation r, Outcome& out,
                                 int& finished) {
  out.shard = r.shard;
  out.status = co_await store.insert(r);
  out.resumed_on = std::this_thread::get_id();
  ++finished;
}

// Spawns every insert on the calling thread's executor and waits for all of them.
asio::awaitable<void> insert_all(ReservationStore& store, std::vector<Reservation> rs,
                                 std::vector<Outcome>& outcomes) {
  auto ex = co_await asio::this_coro::executor;
  outcomes.resize(rs.size());
  int finished = 0;
  for (std::size_t i = 0; i < rs.size(); ++i)
    asio::co_spawn(ex, insert_one(store, std::move(rs[i]), outcomes[i], finished), asio::detached);
  asio::steady_timer tick(ex);
  while (finished < static_cast<int>(outcomes.size())) {
    tick.expires_after(5ms);
    co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

Product create_sale(const std::string& conninfo, const std::string& id) {
  Product p;
  p.product_id = id;
  p.name = "Lanes";
  p.price_cents = 100;
  p.currency = "usd";
  p.stock_total = 20;
  p.shards = 4;  // capacity 5 per shard
  asio::io_context io;
  auto db = pg::make_database(io.get_executor(), test::database_config(conninfo, 2));
  auto st = test::run_coroutine(io, app::apply_migrations(*db));
  EXPECT_TRUE(st.ok()) << (st ? "" : st.error().message);
  catalog::ProductStore products(*db);
  auto up = test::run_coroutine(io, products.upsert(p));
  EXPECT_TRUE(up.ok()) << (up ? "" : up.error().message);
  db->close();
  return up ? up->product : p;
}

Reservation reservation_of(const Product& p, std::int64_t shard, const std::string& user) {
  Reservation r;
  r.reservation_id = SecureRandom::instance().uuid_v4();
  r.product_id = p.product_id;
  r.generation = p.generation;
  r.user_id = user;
  r.quantity = 1;
  r.amount_cents = 100;
  r.currency = "usd";
  r.shard = shard;
  r.created_at = std::chrono::system_clock::now();
  r.expires_at = r.created_at + 10min;
  return r;
}

// Two batches in flight on one store own disjoint shards: while another transaction holds the
// ledger row of shard 0 (as a batch does until its commit), a reservation of shard 1 commits;
// shard 0's waits for the row, then commits too. With one batch in flight (or two batches that
// may share shards), shard 1's reservation would wait behind shard 0's.
TEST(ReservationLanes, BatchesInFlightOnOneStoreOwnDisjointShards) {
  const std::string conninfo = test::fresh_database(test::shared_postgres());
  const Product p = create_sale(conninfo, "sublanes");
  ASSERT_FALSE(HasFailure());
  metrics::MetricsRegistry registry;
  metrics::BackendMetrics backend(registry);

  // The row lock on shard 0, held from another thread until `release`.
  std::atomic<bool> locked{false}, release{false};
  asio::io_context locker_io;
  auto locker_db = pg::make_database(locker_io.get_executor(), test::database_config(conninfo, 1));
  std::thread locker([&] {
    auto st = test::run_coroutine(
        locker_io, locker_db->transaction([&](pg::Session& s) -> asio::awaitable<Status> {
          auto rows = co_await s.query(
              "SELECT 1 FROM stock_shards WHERE product_id = 'sublanes' AND shard = 0 FOR UPDATE");
          if (!rows) co_return std::move(rows).error();
          locked = true;
          asio::steady_timer tick(co_await asio::this_coro::executor);
          while (!release) {
            tick.expires_after(5ms);
            co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
          }
          co_return Status{};
        }));
    EXPECT_TRUE(st.ok()) << (st ? "" : st.error().message);
    locker_db->close();
  });
  for (int i = 0; i < 400 && !locked; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(locked);

  Lane lane(conninfo, backend, 2);
  lane.start();
  Outcome blocked, free;
  std::atomic<int> finished{0};
  auto spawn = [&](std::int64_t shard, Outcome& out) {
    asio::post(lane.io, [&, shard] {
      asio::co_spawn(
          lane.io,
          [&, shard]() -> asio::awaitable<void> {
            out.shard = shard;
            out.status =
                co_await lane.store.insert(reservation_of(p, shard, "u" + std::to_string(shard)));
            ++finished;
          },
          asio::detached);
    });
  };
  spawn(0, blocked);
  spawn(1, free);
  for (int i = 0; i < 1000 && finished < 1; ++i) std::this_thread::sleep_for(5ms);
  const int while_locked = finished.load();
  std::this_thread::sleep_for(100ms);
  const int still = finished.load();
  release = true;
  for (int i = 0; i < 1000 && finished < 2; ++i) std::this_thread::sleep_for(5ms);
  locker.join();
  lane.stop();
  EXPECT_EQ(while_locked, 1) << "shard 1 must commit while shard 0's row is locked";
  EXPECT_EQ(still, 1) << "shard 0 must wait for its row";
  EXPECT_EQ(free.shard, 1);
  EXPECT_TRUE(free.status.ok()) << (free.status ? "" : free.status.error().message);
  EXPECT_EQ(finished.load(), 2);
  EXPECT_TRUE(blocked.status.ok()) << (blocked.status ? "" : blocked.status.error().message);
}

TEST(ReservationLanes, EveryShardIsCommittedByItsLaneAndTheCallerGetsTheLedgersAnswer) {
  const std::string conninfo = test::fresh_database(test::shared_postgres());
  const Product p = create_sale(conninfo, "lanes");
  ASSERT_FALSE(HasFailure());

  metrics::MetricsRegistry registry;
  metrics::BackendMetrics backend(registry);
  Lane lane0(conninfo, backend), lane1(conninfo, backend);
  InsertLanes lanes;
  lanes.add(lane0.store);
  lanes.add(lane1.store);
  ASSERT_EQ(&lanes.lane(0), &lane0.store);
  ASSERT_EQ(&lanes.lane(3), &lane1.store);

  // 6 requests per shard, all from thread 0: the odd shards go to lane 1; one per shard is
  // beyond its capacity and must be refused by the ledger, on either lane.
  std::vector<Reservation> rs;
  for (int shard = 0; shard < 4; ++shard)
    for (int u = 0; u < 6; ++u)
      rs.push_back(reservation_of(p, shard, "u" + std::to_string(shard) + "-" + std::to_string(u)));
  lane0.start();
  lane1.start();
  std::vector<Outcome> outcomes;
  auto done =
      asio::co_spawn(lane0.io, insert_all(lane0.store, std::move(rs), outcomes), asio::use_future);
  const bool finished = done.wait_for(30s) == std::future_status::ready;
  const auto thread0 = lane0.thread.get_id();
  lane0.stop();
  lane1.stop();
  ASSERT_TRUE(finished);

  std::map<std::int64_t, int> created, refused;
  for (const auto& o : outcomes) {
    EXPECT_EQ(o.resumed_on, thread0);
    if (o.status)
      ++created[o.shard];
    else if (o.status.code() == Errc::sold_out)
      ++refused[o.shard];
    else
      ADD_FAILURE() << "shard " << o.shard << ": " << o.status.error().message;
  }
  for (int shard = 0; shard < 4; ++shard) {
    EXPECT_EQ(created[shard], 5) << "shard " << shard;
    EXPECT_EQ(refused[shard], 1) << "shard " << shard;
  }

  // The ledger agrees: 5 rows and 5 allocated units per shard, one outbox event per row.
  asio::io_context io;
  auto db = pg::make_database(io.get_executor(), test::database_config(conninfo, 2));
  auto rows = test::run_coroutine(
      io, db->query("SELECT s.shard, s.allocated, (SELECT count(*) FROM reservations r WHERE "
                    "r.product_id = s.product_id AND r.shard = s.shard), (SELECT count(*) FROM "
                    "outbox) FROM stock_shards s WHERE s.product_id = 'lanes' ORDER BY s.shard"));
  ASSERT_TRUE(rows.ok()) << (rows ? "" : rows.error().message);
  ASSERT_EQ(rows->size(), 4u);
  for (std::size_t i = 0; i < rows->size(); ++i) {
    EXPECT_EQ(rows->get(i, 1), "5") << "allocated, shard " << rows->get(i, 0);
    EXPECT_EQ(rows->get(i, 2), "5") << "rows, shard " << rows->get(i, 0);
    EXPECT_EQ(rows->get(i, 3), "20");
  }
  db->close();
}

// One lane for two threads (the default, --insert-lanes 1): thread 1's store is attached, not a
// lane, so it hands every reservation, of every shard, to lane 0. Its own database points at a
// closed port: a reservation it inserted itself would fail, so every 201 below was committed by
// lane 0, and each caller still resumes on thread 1 with the ledger's answer.
TEST(ReservationLanes, AStoreThatIsNotALaneHandsEveryShardToTheLane) {
  const std::string conninfo = test::fresh_database(test::shared_postgres());
  const Product p = create_sale(conninfo, "one-lane");
  ASSERT_FALSE(HasFailure());

  metrics::MetricsRegistry registry;
  metrics::BackendMetrics backend(registry);
  Lane lane0(conninfo, backend);
  Lane thread1("host=127.0.0.1 port=" + std::to_string(stack::free_port()) +
                   " user=nobody dbname=nothing connect_timeout=1",
               backend);
  InsertLanes lanes;
  lanes.add(lane0.store);
  lanes.attach(thread1.store);
  ASSERT_EQ(lanes.size(), 1u);

  std::vector<Reservation> rs;
  for (int shard = 0; shard < 4; ++shard)
    for (int u = 0; u < 6; ++u)
      rs.push_back(reservation_of(p, shard, "v" + std::to_string(shard) + "-" + std::to_string(u)));
  lane0.start();
  thread1.start();
  std::vector<Outcome> outcomes;
  auto done = asio::co_spawn(thread1.io, insert_all(thread1.store, std::move(rs), outcomes),
                             asio::use_future);
  const bool finished = done.wait_for(30s) == std::future_status::ready;
  const auto caller = thread1.thread.get_id();
  lane0.stop();
  thread1.stop();
  ASSERT_TRUE(finished);

  std::map<std::int64_t, int> created, refused;
  for (const auto& o : outcomes) {
    EXPECT_EQ(o.resumed_on, caller);
    if (o.status)
      ++created[o.shard];
    else if (o.status.code() == Errc::sold_out)
      ++refused[o.shard];
    else
      ADD_FAILURE() << "shard " << o.shard << ": " << o.status.error().message;
  }
  for (int shard = 0; shard < 4; ++shard) {
    EXPECT_EQ(created[shard], 5) << "shard " << shard;
    EXPECT_EQ(refused[shard], 1) << "shard " << shard;
  }
}

}  // namespace
}  // namespace fs::reservation
