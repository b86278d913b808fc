#pragma once
// Reservations in PostgreSQL, the ledger. Inserts are group-committed: concurrent insert()
// calls on one thread are gathered into one multi-row INSERT (one round trip, one WAL flush)
// while the previous batch is in flight, so throughput grows with load instead of queueing.
// Every batch also moves the allocation of the shards it touches in stock_shards under a CHECK
// (allocated <= capacity): the database itself refuses an allocation beyond the stock, whatever
// Redis believed.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/result.hpp"
#include "domain/json_views.hpp"
#include "domain/reservation.hpp"
#include "postgres/database.hpp"

namespace fs::metrics {
class BackendMetrics;
}

namespace fs::reservation {

class ReservationStore;

// The insert lanes of one process: some I/O threads' stores are lanes (add), and a reservation
// of shard s is batched and committed by lane s % lanes, whichever thread asked; the other
// threads' stores only hand their reservations over (attach). Batches of one sale then lock
// disjoint stock_shards rows, so the lanes' commits proceed side by side (PostgreSQL flushes them
// in one WAL write) instead of each batch waiting, on a shard row lock, for another thread's
// batch to commit first; a row lock is held until the commit's WAL flush, so without lanes the
// threads' batches commit one after the other and a 201 can wait for several flushes. Fewer
// lanes than threads make bigger batches, so fewer commits, for one thread hop each way.
// Within a store, the same split again: its batches in flight each own a disjoint set of shards
// (see ReservationStore), so they never wait for each other's row locks either.
// Set up before the first insert (add or attach every store), then read-only: usable from any
// thread.
class InsertLanes {
 public:
  void add(ReservationStore& store);     // a lane: batches its share of the shards
  void attach(ReservationStore& store);  // not a lane: hands every reservation to one
  ReservationStore& lane(std::int64_t shard) const;
  std::size_t size() const { return stores_.size(); }

 private:
  std::vector<ReservationStore*> stores_;
};

struct StatusCounts {
  std::int64_t pending = 0, paying = 0, paid = 0, failed = 0, expired = 0;  // units
};

class ReservationStore {
 public:
  // max_concurrent_batches: batches in flight at once, each for its own set of the sale's
  // shards (of the shards this store batches, every max_concurrent_batches-th), one at a time
  // per set. Batches that share no shard share no row lock: they commit side by side.
  ReservationStore(boost::asio::any_io_executor executor, pg::Database& db,
                   metrics::BackendMetrics& metrics, std::size_t max_concurrent_batches = 1,
                   std::size_t max_batch = 512);
  ~ReservationStore();

  // Durably inserts a PENDING reservation. Errors: Errc::sold_out (the database refused the
  // allocation), Errc::unavailable / Errc::timeout / others (the outcome may be unknown: see
  // HoldResolver). With lanes, the batch that commits it may be another thread's store (the
  // lane of r.shard); the caller resumes on its own executor either way.
  boost::asio::awaitable<Status> insert(const Reservation& r);

  boost::asio::awaitable<Result<std::optional<Reservation>>> find(const std::string& id);
  boost::asio::awaitable<Result<StatusCounts>> counts(const std::string& product_id,
                                                      std::int64_t generation);

  // Settles a reservation whose insert outcome is unknown: writes a FAILED tombstone row with
  // the same id unless the row exists. Returns true when the tombstone was written (the
  // reservation never became durable: its stock must go back), false when the row existed.
  boost::asio::awaitable<Result<bool>> tombstone_if_absent(const Reservation& r);

 private:
  friend class InsertLanes;
  struct Pending;
  struct Lane {
    std::deque<Pending*> queue;
    bool active = false;  // a batch of this lane is in flight
  };
  void enqueue(Pending* p);
  void maybe_flush(std::size_t lane);
  boost::asio::awaitable<void> flush(std::size_t lane, std::vector<Pending*> batch);
  boost::asio::awaitable<void> settle_group(std::vector<Pending*>& group);
  // The ids of the reservations committed (a refused shard's reservations are not).
  boost::asio::awaitable<Result<std::unordered_set<std::string>>> insert_group(
      const std::vector<Pending*>& group);

  boost::asio::any_io_executor executor_;
  pg::Database& db_;
  metrics::BackendMetrics& metrics_;
  std::size_t max_batch_;
  std::vector<Lane> sublanes_;  // max_concurrent_batches of them
  const InsertLanes* lanes_ = nullptr;
};

// PostgreSQL array literal of text elements, every element quoted ("NULL" unquoted for nullopt).
std::string pg_array_literal(const std::vector<std::optional<std::string>>& items);

Result<Reservation> reservation_from_row(const pg::Rows& rows, std::size_t row);

}  // namespace fs::reservation
