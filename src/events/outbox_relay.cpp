#include "events/outbox_relay.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <functional>
#include <map>

#include "events/event_log.hpp"
#include "metrics/outbox_metrics.hpp"
#include "postgres/database.hpp"

namespace fs::events {
namespace asio = boost::asio;

namespace {

constexpr std::string_view kSelect =
    "SELECT id, topic, event_key, event_type, payload, "
    "extract(epoch from clock_timestamp() - created_at)::float8 "
    "FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED";
constexpr std::string_view kDelete = "DELETE FROM outbox WHERE id = ANY($1::bigint[])";
// Every row in the outbox is waiting (published rows are deleted), and ids come from one sequence:
// the span of ids is the backlog (an upper bound when an insert rolled back and left a gap). Two
// index probes, where count(*) would visit every waiting row and every dead one not yet vacuumed,
// once a second, while a burst's backlog is at its largest.
constexpr std::string_view kBacklog = "SELECT coalesce(max(id) - min(id) + 1, 0) FROM outbox";
// After an empty round, whether a row is waiting: one statement outside a transaction, where a
// round is three round trips (BEGIN, the locking SELECT, COMMIT). The oldest id by the primary
// key, as the round reads them (a seq scan would walk a burst's dead tuples until the vacuum).
constexpr std::string_view kProbe = "SELECT id FROM outbox ORDER BY id LIMIT 1";
// SKIP_LOCKED: another relay's (or autovacuum's) vacuum of the table is already doing it.
constexpr std::string_view kVacuum = "VACUUM (SKIP_LOCKED) outbox";

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace

OutboxRelay::OutboxRelay(pg::Database& db, EventLog& log, OutboxRelayConfig config,
                         metrics::OutboxMetrics* metrics)
    : db_(db), log_(log), config_(config), metrics_(metrics) {
  if (config_.batch == 0) config_.batch = 1;
}

asio::awaitable<Result<std::size_t>> OutboxRelay::relay_once() {
  std::size_t rows_published = 0;
  std::chrono::nanoseconds publish_elapsed{};
  std::function<asio::awaitable<Status>(pg::Session&)> round =
      [this, &rows_published, &publish_elapsed](pg::Session& s) -> asio::awaitable<Status> {
    std::vector<pg::Param> limit{std::to_string(config_.batch)};
    auto rows = co_await s.query(kSelect, std::move(limit));
    if (!rows) co_return std::move(rows).error();
    if (rows->empty()) co_return Status{};
    // Per topic, in id order (a batch is usually one topic: one pipelined round trip).
    std::map<std::string, std::vector<Event>> by_topic;
    std::string ids = "{";
    std::vector<double> delays;
    for (std::size_t i = 0; i < rows->size(); ++i) {
      Event e;
      e.key = std::string(rows->get(i, 2));
      e.type = std::string(rows->get(i, 3));
      e.payload = std::string(rows->get(i, 4));
      by_topic[std::string(rows->get(i, 1))].push_back(std::move(e));
      if (i) ids.push_back(',');
      ids.append(rows->get(i, 0));
      double age = 0;
      auto cell = rows->get(i, 5);
      std::from_chars(cell.data(), cell.data() + cell.size(), age);
      delays.push_back(age);
    }
    ids.push_back('}');
    const auto start = std::chrono::steady_clock::now();
    for (auto& [topic, events] : by_topic) {
      auto published = co_await log_.publish_batch(topic, std::move(events));
      if (!published) co_return std::move(published).error();  // rollback: the rows stay
    }
    publish_elapsed = std::chrono::steady_clock::now() - start;
    std::vector<pg::Param> del{std::move(ids)};
    auto deleted = co_await s.query(kDelete, std::move(del));
    if (!deleted) co_return std::move(deleted).error();
    rows_published = rows->size();
    if (metrics_)
      for (double d : delays) metrics_->delay(d);
    co_return Status{};
  };
  // Deferred commit: the round's deletes need no WAL flush of their own (nor a wait for one). A
  // server crash that undid them brings the rows back, and they are published again: the
  // at-least-once delivery the consumers handle anyway (above).
  ++rounds_;
  auto st = co_await db_.transaction(std::move(round), pg::Database::Commit::deferred);
  if (!st) {
    if (metrics_) metrics_->round(0, {}, to_string(st.code()));
    co_return std::move(st).error();
  }
  if (metrics_) metrics_->round(rows_published, publish_elapsed, {});
  published_ += static_cast<std::int64_t>(rows_published);
  deleted_since_vacuum_ += rows_published;
  co_return rows_published;
}

asio::awaitable<Status> OutboxRelay::vacuum() {
  const auto start = std::chrono::steady_clock::now();
  auto done = co_await db_.execute_script(kVacuum);
  if (!done) {
    if (metrics_) metrics_->vacuum({}, to_string(done.code()));
    co_return std::move(done).error();
  }
  deleted_since_vacuum_ = 0;
  ++vacuums_;
  if (metrics_) metrics_->vacuum(std::chrono::steady_clock::now() - start, {});
  co_return Status{};
}

asio::awaitable<void> OutboxRelay::run() {
  auto backoff = config_.backoff_min;
  auto next_backlog = std::chrono::steady_clock::now();
  bool idle = false;  // the last round found the outbox empty
  while (!stopping_) {
    if (metrics_ && config_.backlog_interval.count() > 0 &&
        std::chrono::steady_clock::now() >= next_backlog) {
      next_backlog = std::chrono::steady_clock::now() + config_.backlog_interval;
      auto n = co_await db_.query(kBacklog);
      if (n && !n->empty()) {
        std::int64_t rows = 0;
        auto cell = n->get(0, 0);
        std::from_chars(cell.data(), cell.data() + cell.size(), rows);
        metrics_->backlog(rows);
      }
    }
    if (idle) {
      // The last round found nothing: look before opening a transaction.
      auto waiting = co_await db_.query(kProbe);
      if (waiting && waiting->empty()) {
        co_await sleep_for(config_.poll_interval);
        continue;
      }
      // A row (or an error, which the round reports and backs off from): run a round.
    }
    auto r = co_await relay_once();
    idle = r && *r == 0;
    if (!r) {
      spdlog::warn("outbox relay: round failed ({}), retrying in {} ms", r.error().message,
                   backoff.count());
      co_await sleep_for(backoff);
      backoff = std::min(backoff * 2, config_.backoff_max);
      continue;
    }
    backoff = config_.backoff_min;
    if (*r < config_.batch) {
      // Caught up: the moment to clear what the backlog left behind, before the next burst.
      if (config_.vacuum_after > 0 && deleted_since_vacuum_ >= config_.vacuum_after) {
        auto st = co_await vacuum();
        if (!st) {
          spdlog::warn("outbox relay: VACUUM outbox failed ({})", st.error().message);
          deleted_since_vacuum_ = 0;  // autovacuum still comes; retry after as many deletes
        }
      }
      co_await sleep_for(config_.poll_interval);
    }
  }
}

}  // namespace fs::events
