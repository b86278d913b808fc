#pragma once
// The outbox relay: moves rows of the `outbox` table (migrations/002_outbox.sql) to the event log.
// A round is one transaction: SELECT ... ORDER BY id LIMIT n FOR UPDATE SKIP LOCKED, publish the
// rows (pipelined), DELETE them, COMMIT without waiting for the WAL flush (Commit::deferred: a
// crash that loses the commit only brings published rows back, see below). Hence:
// - a row is published only once its producing transaction committed (a rolled-back state change
//   never announces anything);
// - several relays (threads or processes) may run at once: each locks rows the others skip;
// - a failed publish rolls the round back: the rows stay and are retried with backoff;
// - a relay that dies after publishing and before COMMIT leaves its rows (the lock dies with the
//   connection), and so does a PostgreSQL crash within wal_writer_delay after the (deferred)
//   COMMIT: they are published again. At-least-once: consumers are idempotent.
// Ordering: one relay publishes in id order; with several relays, rows of one key committed close
// together may be published out of order (consumers tolerate reordering, see event_log.hpp).
// Dead rows: every published row is deleted, so a burst leaves as many dead tuples and dead index
// entries, which every later round's index scan (and the table's other readers) walk past until
// autovacuum comes (autovacuum_naptime, a minute by default). Once a relay has caught up after
// deleting vacuum_after rows, it runs VACUUM (SKIP_LOCKED) outbox itself: a table of a few pages
// of live rows, so the vacuum costs about its dead rows (~2 ms per 1,000 on the bench machine).
// Why an outbox and not a dual write: docs/architecture.md, "Events".
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>

#include "common/result.hpp"

namespace fs::pg {
class Database;
}
namespace fs::metrics {
class OutboxMetrics;
}

namespace fs::events {

class EventLog;

struct OutboxRelayConfig {
  std::size_t batch = 500;                           // rows per round
  std::chrono::milliseconds poll_interval{20};       // idle wait between empty rounds
  std::chrono::milliseconds backoff_min{50};         // after a failed round, doubling...
  std::chrono::milliseconds backoff_max{2000};       // ...up to this
  std::chrono::milliseconds backlog_interval{1000};  // refresh of the backlog gauge; 0: never
  std::size_t vacuum_after = 10000;  // rows deleted, then VACUUM once caught up; 0: never
};

class OutboxRelay {
 public:
  // All references (metrics may be null) must outlive the relay; same executor as `db`/`log`.
  OutboxRelay(pg::Database& db, EventLog& log, OutboxRelayConfig config,
              metrics::OutboxMetrics* metrics = nullptr);

  // One round; the number of rows published and deleted (0: the outbox looked empty).
  boost::asio::awaitable<Result<std::size_t>> relay_once();

  // Rounds until stop(): back to back while batches are full, poll_interval apart when idle.
  // After an empty round the next look is one index probe outside a transaction (a round is
  // three round trips even when it finds nothing), and a round runs only when it sees a row.
  boost::asio::awaitable<void> run();
  void stop() { stopping_ = true; }

  std::int64_t published() const { return published_; }
  std::int64_t rounds() const { return rounds_; }  // transactions run by relay_once()
  std::int64_t vacuums() const { return vacuums_; }

  // VACUUM (SKIP_LOCKED) outbox; run() calls it once caught up after vacuum_after deletes.
  boost::asio::awaitable<Status> vacuum();

 private:
  pg::Database& db_;
  EventLog& log_;
  OutboxRelayConfig config_;
  metrics::OutboxMetrics* metrics_;
  bool stopping_ = false;
  std::int64_t published_ = 0;
  std::int64_t rounds_ = 0;
  std::size_t deleted_since_vacuum_ = 0;
  std::int64_t vacuums_ = 0;
};

}  // namespace fs::events
