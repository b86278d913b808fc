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
#include <memory>
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
namespace detail {
struct PendingInsert;
struct InsertLane;
}  // namespace detail

// The insert lanes of one process, shared by every I/O thread's store: a reservation of shard s
// is batched by lane s % lanes. A lane has at most one batch in flight; whichever thread finds
// it idle sends the next batch, on its own connections, and keeps sending the batches that
// queue meanwhile (from any thread) until the lane's queue is empty. So a reservation costs no
// hop to another thread on its way in, and one on its way back only when another thread's
// batch committed it.
// Lanes batch disjoint shards, so they lock disjoint stock_shards rows and commit side by side
// (PostgreSQL flushes them in one WAL write) instead of one batch waiting, on a shard row lock
// held until the commit's WAL flush, for another to commit first. Fewer lanes make bigger
// batches: fewer commits, less PostgreSQL CPU per reservation.
class InsertLanes {
 public:
  explicit InsertLanes(std::size_t lanes = 1);  // 0 counts as 1
  ~InsertLanes();
  InsertLanes(const InsertLanes&) = delete;
  InsertLanes& operator=(const InsertLanes&) = delete;
  std::size_t size() const { return lanes_.size(); }

 private:
  friend class ReservationStore;
  detail::InsertLane& lane(std::int64_t shard) const;
  std::vector<std::unique_ptr<detail::InsertLane>> lanes_;
};

struct StatusCounts {
  std::int64_t pending = 0, paying = 0, paid = 0, failed = 0, expired = 0;  // units
};

class ReservationStore {
 public:
  // lanes: the process's insert lanes, shared by the stores of all its threads; null: the store
  // has a lane of its own (its batches then wait, on the shard row locks, for other stores').
  ReservationStore(boost::asio::any_io_executor executor, pg::Database& db,
                   metrics::BackendMetrics& metrics, InsertLanes* lanes = nullptr,
                   std::size_t max_batch = 512);
  ~ReservationStore();

  // Durably inserts a PENDING reservation. Errors: Errc::sold_out (the database refused the
  // allocation), Errc::unavailable / Errc::timeout / others (the outcome may be unknown: see
  // HoldResolver). The batch that commits it may be sent by another thread's store (the one
  // driving the lane of r.shard); the caller resumes on its own executor either way.
  boost::asio::awaitable<Status> insert(const Reservation& r);

  boost::asio::awaitable<Result<std::optional<Reservation>>> find(const std::string& id);
  boost::asio::awaitable<Result<StatusCounts>> counts(const std::string& product_id,
                                                      std::int64_t generation);

  // Settles a reservation whose insert outcome is unknown: writes a FAILED tombstone row with
  // the same id unless the row exists. Returns true when the tombstone was written (the
  // reservation never became durable: its stock must go back), false when the row existed.
  boost::asio::awaitable<Result<bool>> tombstone_if_absent(const Reservation& r);

 private:
  // Sends batches of the lane until its queue is empty, starting with `batch`.
  boost::asio::awaitable<void> drive(detail::InsertLane& lane,
                                     std::vector<detail::PendingInsert*> batch);
  std::vector<detail::PendingInsert*> take(detail::InsertLane& lane) const;  // lane.m held
  // Resumes the callers: those of this thread at once, the others' with one post per thread.
  void complete(const std::vector<detail::PendingInsert*>& batch) const;
  boost::asio::awaitable<void> settle_group(std::vector<detail::PendingInsert*>& group);
  // The ids of the reservations committed (a refused shard's reservations are not).
  boost::asio::awaitable<Result<std::unordered_set<std::string>>> insert_group(
      const std::vector<detail::PendingInsert*>& group);

  boost::asio::any_io_executor executor_;
  pg::Database& db_;
  metrics::BackendMetrics& metrics_;
  std::size_t max_batch_;
  std::unique_ptr<InsertLanes> own_lanes_;  // when not given shared ones
  InsertLanes* lanes_;
};

Result<Reservation> reservation_from_row(const pg::Rows& rows, std::size_t row);

}  // namespace fs::reservation
