// Insert lanes (ReservationStore + InsertLanes) against a real PostgreSQL: I/O threads, each with
// its own store and pool, share the process's lanes; a reservation is committed by a batch of its
// shard's lane, whichever thread sends it, and the caller resumes on its own thread with the
// ledger's answer.
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
#include "support/metrics_text.hpp"
#include "support/run_coroutine.hpp"
#include "support/servers.hpp"

namespace fs::reservation {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// One I/O thread: its io_context, pool and store.
struct Lane {
  Lane(const std::string& conninfo, metrics::BackendMetrics& m, InsertLanes* lanes = nullptr)
      : db(pg::make_database(io.get_executor(), test::database_config(conninfo, 2))),
        store(io.get_executor(), *db, m, lanes) {}
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

// Holds the ledger row of shard 0 of a sale in a transaction on a thread of its own (as a batch
// does until its commit) until release() or destruction.
class ShardRowLock {
 public:
  ShardRowLock(const std::string& conninfo, const std::string& product_id)
      : db_(pg::make_database(io_.get_executor(), test::database_config(conninfo, 1))),
        thread_([this, product_id] {
          auto st = test::run_coroutine(
              io_, db_->transaction([&](pg::Session& s) -> asio::awaitable<Status> {
                std::vector<pg::Param> id{product_id};
                auto rows = co_await s.query(
                    "SELECT 1 FROM stock_shards WHERE product_id = $1 AND shard = 0 FOR UPDATE",
                    std::move(id));
                if (!rows) co_return std::move(rows).error();
                held_ = true;
                asio::steady_timer tick(co_await asio::this_coro::executor);
                while (!release_) {
                  tick.expires_after(5ms);
                  co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
                }
                co_return Status{};
              }));
          EXPECT_TRUE(st.ok()) << (st ? "" : st.error().message);
          db_->close();
        }) {}
  ~ShardRowLock() { release(); }
  // Waits up to 2 s for the lock.
  bool held() const {
    for (int i = 0; i < 400 && !held_; ++i) std::this_thread::sleep_for(5ms);
    return held_;
  }
  void release() {
    release_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  asio::io_context io_;
  std::unique_ptr<pg::Database> db_;
  std::atomic<bool> held_{false}, release_{false};
  std::thread thread_;
};

// Inserts r on `on`'s thread; `out` gets its outcome and the thread it resumed on.
void spawn_insert(Lane& on, Reservation r, Outcome& out, std::atomic<int>& finished) {
  asio::post(on.io, [&on, r = std::move(r), &out, &finished]() mutable {
    asio::co_spawn(
        on.io,
        [&on, r = std::move(r), &out, &finished]() -> asio::awaitable<void> {
          out.shard = r.shard;
          out.status = co_await on.store.insert(r);
          out.resumed_on = std::this_thread::get_id();
          ++finished;
        },
        asio::detached);
  });
}

// Two lanes own disjoint shards: while another transaction holds the ledger row of shard 0 (as a
// batch does until its commit), a reservation of shard 1 commits; shard 0's waits for the row,
// then commits too. With one lane, shard 1's reservation would wait behind shard 0's batch.
TEST(ReservationLanes, TwoLanesOwnDisjointShards) {
  const std::string conninfo = test::fresh_database(test::shared_postgres());
  const Product p = create_sale(conninfo, "sublanes");
  ASSERT_FALSE(HasFailure());
  metrics::MetricsRegistry registry;
  metrics::BackendMetrics backend(registry);

  ShardRowLock lock(conninfo, "sublanes");
  ASSERT_TRUE(lock.held());

  InsertLanes two(2);
  Lane lane(conninfo, backend, &two);
  lane.start();
  Outcome blocked, free;
  std::atomic<int> finished{0};
  spawn_insert(lane, reservation_of(p, 0, "u0"), blocked, finished);
  spawn_insert(lane, reservation_of(p, 1, "u1"), free, finished);
  for (int i = 0; i < 1000 && finished < 1; ++i) std::this_thread::sleep_for(5ms);
  const int while_locked = finished.load();
  std::this_thread::sleep_for(100ms);
  const int still = finished.load();
  lock.release();
  for (int i = 0; i < 1000 && finished < 2; ++i) std::this_thread::sleep_for(5ms);
  lane.stop();
  EXPECT_EQ(while_locked, 1) << "shard 1 must commit while shard 0's row is locked";
  EXPECT_EQ(still, 1) << "shard 0 must wait for its row";
  EXPECT_EQ(free.shard, 1);
  EXPECT_TRUE(free.status.ok()) << (free.status ? "" : free.status.error().message);
  EXPECT_EQ(finished.load(), 2);
  EXPECT_TRUE(blocked.status.ok()) << (blocked.status ? "" : blocked.status.error().message);
}

TEST(ReservationLanes, ThreadsSharingLanesGetTheLedgersAnswerOnTheirOwnThread) {
  const std::string conninfo = test::fresh_database(test::shared_postgres());
  const Product p = create_sale(conninfo, "lanes");
  ASSERT_FALSE(HasFailure());

  metrics::MetricsRegistry registry;
  metrics::BackendMetrics backend(registry);
  InsertLanes lanes(2);
  Lane lane0(conninfo, backend, &lanes), lane1(conninfo, backend, &lanes);

  // 6 requests per shard from each thread, at once: 12 per shard for a capacity of 5, so 7 per
  // shard must be refused by the ledger, whichever thread's batch carried them.
  std::vector<Reservation> rs0, rs1;
  for (int shard = 0; shard < 4; ++shard)
    for (int u = 0; u < 6; ++u) {
      rs0.push_back(
          reservation_of(p, shard, "a" + std::to_string(shard) + "-" + std::to_string(u)));
      rs1.push_back(
          reservation_of(p, shard, "b" + std::to_string(shard) + "-" + std::to_string(u)));
    }
  lane0.start();
  lane1.start();
  std::vector<Outcome> outcomes0, outcomes1;
  auto done0 = asio::co_spawn(lane0.io, insert_all(lane0.store, std::move(rs0), outcomes0),
                              asio::use_future);
  auto done1 = asio::co_spawn(lane1.io, insert_all(lane1.store, std::move(rs1), outcomes1),
                              asio::use_future);
  const bool finished = done0.wait_for(30s) == std::future_status::ready &&
                        done1.wait_for(30s) == std::future_status::ready;
  const auto thread0 = lane0.thread.get_id(), thread1 = lane1.thread.get_id();
  lane0.stop();
  lane1.stop();
  ASSERT_TRUE(finished);

  std::map<std::int64_t, int> created, refused;
  for (const auto& o : outcomes0) EXPECT_EQ(o.resumed_on, thread0);
  for (const auto& o : outcomes1) EXPECT_EQ(o.resumed_on, thread1);
  std::vector<Outcome> outcomes = outcomes0;
  outcomes.insert(outcomes.end(), outcomes1.begin(), outcomes1.end());
  for (const auto& o : outcomes) {
    if (o.status)
      ++created[o.shard];
    else if (o.status.code() == Errc::sold_out)
      ++refused[o.shard];
    else
      ADD_FAILURE() << "shard " << o.shard << ": " << o.status.error().message;
  }
  for (int shard = 0; shard < 4; ++shard) {
    EXPECT_EQ(created[shard], 5) << "shard " << shard;
    EXPECT_EQ(refused[shard], 7) << "shard " << shard;
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

// One lane for two threads (the default, --insert-lanes 1): while thread 0's batch of shard 0 is
// in flight (stalled on the shard's row lock, which another transaction holds), thread 1's
// reservation of shard 1 queues on the lane instead of going out itself, and goes out in the
// next batch, sent by thread 0 on its connections: thread 1's own database points at a closed
// port, so had thread 1 sent it, it would have failed. Its caller resumes on thread 1.
TEST(ReservationLanes, OneLaneAcrossThreadsQueuesBehindTheBatchInFlight) {
  const std::string conninfo = test::fresh_database(test::shared_postgres());
  const Product p = create_sale(conninfo, "one-lane");
  ASSERT_FALSE(HasFailure());
  metrics::MetricsRegistry registry;
  metrics::BackendMetrics backend(registry);

  ShardRowLock lock(conninfo, "one-lane");
  ASSERT_TRUE(lock.held());

  InsertLanes one(1);
  Lane thread0(conninfo, backend, &one);
  Lane thread1("host=127.0.0.1 port=" + std::to_string(stack::free_port()) +
                   " user=nobody dbname=nothing connect_timeout=1",
               backend, &one);
  thread0.start();
  thread1.start();
  Outcome first, second;
  std::atomic<int> finished{0};
  spawn_insert(thread0, reservation_of(p, 0, "w0"), first, finished);
  std::this_thread::sleep_for(100ms);  // thread 0's batch is in flight, waiting for the row
  spawn_insert(thread1, reservation_of(p, 1, "w1"), second, finished);
  std::this_thread::sleep_for(200ms);
  const int while_locked = finished.load();
  lock.release();
  for (int i = 0; i < 1000 && finished < 2; ++i) std::this_thread::sleep_for(5ms);
  const auto t0 = thread0.thread.get_id(), t1 = thread1.thread.get_id();
  thread0.stop();
  thread1.stop();
  EXPECT_EQ(while_locked, 0) << "shard 1's reservation must queue behind the batch in flight";
  EXPECT_EQ(finished.load(), 2);
  EXPECT_TRUE(first.status.ok()) << (first.status ? "" : first.status.error().message);
  EXPECT_TRUE(second.status.ok()) << (second.status ? "" : second.status.error().message);
  EXPECT_EQ(first.resumed_on, t0);
  EXPECT_EQ(second.resumed_on, t1);

  // The commit wait by part, once per reservation: the first spent ~300 ms in its statement
  // (the row lock), the second ~200 ms queued behind it; the parts add up to the whole wait.
  const std::string text = registry.serialize();
  auto part = [&](const std::string& op, const char* what) {
    return test::sample_value(text, "flashsale_backend_call_duration_seconds_" + std::string(what) +
                                        "{backend=\"postgres\",op=\"" + op + "\"}");
  };
  for (const char* op : {"reservation_commit", "reservation_commit_queued",
                         "reservation_commit_statement", "reservation_commit_handoff"})
    EXPECT_EQ(part(op, "count"), 2) << op;
  const double whole = part("reservation_commit", "sum"),
               queued = part("reservation_commit_queued", "sum"),
               statement = part("reservation_commit_statement", "sum"),
               handoff = part("reservation_commit_handoff", "sum");
  EXPECT_GE(statement, 0.25) << "the first batch waited ~300 ms for the shard's row";
  EXPECT_GE(queued, 0.15) << "the second reservation queued ~200 ms behind it";
  EXPECT_LT(handoff, 0.1);
  EXPECT_NEAR(queued + statement + handoff, whole, 1e-6);
}

}  // namespace
}  // namespace fs::reservation
