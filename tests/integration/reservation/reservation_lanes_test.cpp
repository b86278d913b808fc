// Insert lanes (ReservationStore + InsertLanes) against a real PostgreSQL: two I/O threads, each
// with its own store and pool; a reservation is committed by the lane of its shard, whatever
// thread asked, and the caller resumes on its own thread with the ledger's answer.
#include <gtest/gtest.h>

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
  Lane(const std::string& conninfo, metrics::BackendMetrics& m)
      : db(pg::make_database(io.get_executor(), test::database_config(conninfo, 2))),
        store(io.get_executor(), *db, m, 1) {}
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

TEST(ReservationLanes, EveryShardIsCommittedByItsLaneAndTheCallerGetsTheLedgersAnswer) {
  const std::string conninfo = test::fresh_database(test::shared_postgres());
  Product p;
  p.product_id = "lanes";
  p.name = "Lanes";
  p.price_cents = 100;
  p.currency = "usd";
  p.stock_total = 20;
  p.shards = 4;  // capacity 5 per shard
  {
    asio::io_context io;
    auto db = pg::make_database(io.get_executor(), test::database_config(conninfo, 2));
    auto st = test::run_coroutine(io, app::apply_migrations(*db));
    ASSERT_TRUE(st.ok()) << (st ? "" : st.error().message);
    catalog::ProductStore products(*db);
    auto up = test::run_coroutine(io, products.upsert(p));
    ASSERT_TRUE(up.ok()) << (up ? "" : up.error().message);
    p = up->product;
    db->close();
  }

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
  const auto now = std::chrono::system_clock::now();
  for (int shard = 0; shard < 4; ++shard) {
    for (int u = 0; u < 6; ++u) {
      Reservation r;
      r.reservation_id = SecureRandom::instance().uuid_v4();
      r.product_id = p.product_id;
      r.generation = p.generation;
      r.user_id = "u" + std::to_string(shard) + "-" + std::to_string(u);
      r.quantity = 1;
      r.amount_cents = 100;
      r.currency = "usd";
      r.shard = shard;
      r.created_at = now;
      r.expires_at = now + 10min;
      rs.push_back(std::move(r));
    }
  }
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

}  // namespace
}  // namespace fs::reservation
