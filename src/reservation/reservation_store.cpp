#include "reservation/reservation_store.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_set>

#include "common/parse_int.hpp"
#include "metrics/backend_metrics.hpp"
#include "postgres/array_literal.hpp"

namespace fs::reservation {
namespace asio = boost::asio;

namespace {

std::int64_t to_ms(SysTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// One statement inserts a whole batch of one sale and moves the allocation of every shard it
// touches in the ledger. The shard rows are locked in shard order (a materialised FOR UPDATE),
// so concurrent batches never deadlock, and only batches that touch the same shards wait for
// each other. A shard whose capacity would be exceeded is not locked, and its reservations are
// not inserted (the caller then settles them one by one).
// The same statement inserts the reservation.created event of every inserted reservation into
// the outbox (topic and type of src/events/event_log.hpp), so a reservation and its event commit
// together; the outbox relay publishes it.
constexpr std::string_view kInsertBatch = R"SQL(
WITH req AS (
  SELECT * FROM unnest($4::uuid[], $5::text[], $6::int[], $7::bigint[], $8::int[], $9::text[],
                       $10::bigint[], $11::bigint[], $12::text[], $13::text[])
         AS t(id, user_id, qty, amount, shard, idem, exp_ms, created_ms, event, fp)
), need AS (
  SELECT shard, sum(qty)::bigint AS units FROM req GROUP BY shard
), locked AS MATERIALIZED (
  SELECT s.shard, need.units FROM stock_shards s JOIN need ON need.shard = s.shard
  WHERE s.product_id = $1 AND s.generation = $2 AND s.allocated + need.units <= s.capacity
  ORDER BY s.shard
  FOR UPDATE OF s
), guard AS (
  UPDATE stock_shards s SET allocated = s.allocated + locked.units FROM locked
  WHERE s.product_id = $1 AND s.generation = $2 AND s.shard = locked.shard
    AND s.allocated + locked.units <= s.capacity
  RETURNING s.shard
), ins AS (
  INSERT INTO reservations (reservation_id, product_id, generation, user_id, quantity, status,
                            amount_cents, currency, shard, idempotency_key, expires_at, created_at,
                            request_fingerprint)
  SELECT req.id, $1, $2, req.user_id, req.qty, 'PENDING', req.amount, $3, req.shard, req.idem,
         to_timestamp(req.exp_ms / 1000.0), to_timestamp(req.created_ms / 1000.0), req.fp
  FROM req JOIN guard ON guard.shard = req.shard
  RETURNING reservation_id
), created AS (
  INSERT INTO outbox (topic, event_key, event_type, payload)
  SELECT 'reservations', ins.reservation_id::text, 'reservation.created', req.event
  FROM ins JOIN req ON req.id = ins.reservation_id
)
SELECT reservation_id FROM ins
)SQL";

constexpr std::string_view kSelect =
    "SELECT reservation_id, product_id, generation, user_id, quantity, status, amount_cents, "
    "currency, shard, idempotency_key, (extract(epoch from expires_at) * 1000)::bigint, "
    "(extract(epoch from created_at) * 1000)::bigint, order_id, payment_id, failure_code "
    "FROM reservations WHERE reservation_id = $1";

}  // namespace

Result<Reservation> reservation_from_row(const pg::Rows& rows, std::size_t row) {
  Reservation r;
  r.reservation_id = std::string(rows.get(row, 0));
  r.product_id = std::string(rows.get(row, 1));
  r.user_id = std::string(rows.get(row, 3));
  r.currency = std::string(rows.get(row, 7));
  auto st = parse_reservation_status(rows.get(row, 5));
  std::int64_t exp_ms = 0, created_ms = 0;
  bool ok = st && parse_int(rows.get(row, 2), r.generation) &&
            parse_int(rows.get(row, 4), r.quantity) &&
            parse_int(rows.get(row, 6), r.amount_cents) && parse_int(rows.get(row, 8), r.shard) &&
            parse_int(rows.get(row, 10), exp_ms) && parse_int(rows.get(row, 11), created_ms);
  if (!ok) return Error{Errc::protocol_error, "malformed reservation row"};
  r.status = *st;
  r.expires_at = SysTime{std::chrono::milliseconds{exp_ms}};
  r.created_at = SysTime{std::chrono::milliseconds{created_ms}};
  if (!rows.is_null(row, 9)) r.idempotency_key = std::string(rows.get(row, 9));
  if (!rows.is_null(row, 12)) r.order_id = std::string(rows.get(row, 12));
  if (!rows.is_null(row, 13)) r.payment_id = std::string(rows.get(row, 13));
  if (!rows.is_null(row, 14)) r.failure_code = std::string(rows.get(row, 14));
  return r;
}

namespace detail {

struct PendingInsert {
  const Reservation* r;
  Status result;
  asio::steady_timer* done;    // on the caller's executor
  asio::any_io_executor home;  // the caller's executor
  bool completed = false;      // written on the caller's executor only
  // Written by the thread that drives the batch, read by the caller once completed.
  std::chrono::steady_clock::time_point sent;     // its batch left for PostgreSQL
  std::chrono::steady_clock::time_point settled;  // its batch's statements answered
};

struct InsertLane {
  std::mutex m;
  std::deque<PendingInsert*> queue;  // guarded by m
  bool active = false;               // guarded by m: a batch of this lane is in flight
};

}  // namespace detail

using detail::InsertLane;
using detail::PendingInsert;

InsertLanes::InsertLanes(std::size_t lanes) {
  for (std::size_t i = 0; i < std::max<std::size_t>(lanes, 1); ++i)
    lanes_.push_back(std::make_unique<InsertLane>());
}

InsertLanes::~InsertLanes() = default;

InsertLane& InsertLanes::lane(std::int64_t shard) const {
  const auto n = static_cast<std::int64_t>(lanes_.size());
  return *lanes_[static_cast<std::size_t>(((shard % n) + n) % n)];
}

ReservationStore::ReservationStore(asio::any_io_executor executor, pg::Database& db,
                                   metrics::BackendMetrics& metrics, InsertLanes* lanes,
                                   std::size_t max_batch)
    : executor_(std::move(executor)),
      db_(db),
      metrics_(metrics),
      max_batch_(max_batch ? max_batch : 1),
      own_lanes_(lanes ? nullptr : std::make_unique<InsertLanes>(1)),
      lanes_(lanes ? lanes : own_lanes_.get()) {}

ReservationStore::~ReservationStore() = default;

asio::awaitable<Status> ReservationStore::insert(const Reservation& r) {
  const auto start = std::chrono::steady_clock::now();
  asio::steady_timer done(executor_, asio::steady_timer::time_point::max());
  PendingInsert p{&r, Status{}, &done, executor_};
  InsertLane& lane = lanes_->lane(r.shard);
  std::vector<PendingInsert*> batch;
  {
    std::lock_guard lock(lane.m);
    lane.queue.push_back(&p);
    if (!lane.active) {
      lane.active = true;
      batch = take(lane);
    }
  }
  // The lane was idle: this thread sends its batches until its queue is empty. co_spawn may run
  // drive() inline up to its first suspension, and a database that is down answers without
  // suspending: the batch can be complete before we get to the wait.
  if (!batch.empty()) asio::co_spawn(executor_, drive(lane, std::move(batch)), asio::detached);
  while (!p.completed) co_await done.async_wait(asio::as_tuple(asio::use_awaitable));
  // The whole wait of one reservation: its queue, the batch statement (insert_reservations), and
  // the hand-off back when another thread's batch committed it; and those three parts, each
  // counted once per reservation (the statement histogram counts a batch of 40 once).
  const auto end = std::chrono::steady_clock::now();
  metrics_.observe("postgres", "reservation_commit", end - start,
                   p.result ? nullptr : &p.result.error());
  metrics_.observe("postgres", "reservation_commit_queued", p.sent - start, nullptr);
  metrics_.observe("postgres", "reservation_commit_statement", p.settled - p.sent, nullptr);
  metrics_.observe("postgres", "reservation_commit_handoff", end - p.settled, nullptr);
  co_return p.result;
}

std::vector<PendingInsert*> ReservationStore::take(InsertLane& lane) const {
  std::vector<PendingInsert*> batch;
  while (!lane.queue.empty() && batch.size() < max_batch_) {
    batch.push_back(lane.queue.front());
    lane.queue.pop_front();
  }
  return batch;
}

asio::awaitable<void> ReservationStore::drive(InsertLane& lane, std::vector<PendingInsert*> batch) {
  while (!batch.empty()) {
    metrics_.batch_size(batch.size());
    const auto sent = std::chrono::steady_clock::now();
    for (auto* p : batch) p->sent = sent;
    // Group by sale; a flash sale is usually one product, so usually one statement and one
    // commit.
    std::map<std::pair<std::string, std::int64_t>, std::vector<PendingInsert*>> groups;
    for (auto* p : batch) groups[{p->r->product_id, p->r->generation}].push_back(p);
    for (auto& entry : groups) co_await settle_group(entry.second);
    const auto settled = std::chrono::steady_clock::now();
    for (auto* p : batch) p->settled = settled;
    complete(batch);
    std::lock_guard lock(lane.m);
    batch = take(lane);
    if (batch.empty()) lane.active = false;
  }
}

void ReservationStore::complete(const std::vector<PendingInsert*>& batch) const {
  // Sorted out before anything is completed: once posted, another thread's caller may resume and
  // free its PendingInsert at any moment.
  std::vector<PendingInsert*> here;
  std::vector<std::pair<asio::any_io_executor, std::vector<PendingInsert*>>> away;
  for (auto* p : batch) {
    if (p->home == executor_) {
      here.push_back(p);
      continue;
    }
    auto it =
        std::find_if(away.begin(), away.end(), [p](const auto& e) { return e.first == p->home; });
    if (it == away.end()) it = away.insert(away.end(), {p->home, {}});
    it->second.push_back(p);
  }
  for (auto& [home, ps] : away) {
    asio::post(home, [ps = std::move(ps)] {
      for (auto* p : ps) {
        p->completed = true;
        p->done->cancel();
      }
    });
  }
  for (auto* p : here) {
    p->completed = true;
    p->done->cancel();
  }
}

asio::awaitable<void> ReservationStore::settle_group(std::vector<PendingInsert*>& group) {
  auto inserted = co_await insert_group(group);
  if (!inserted) {
    for (auto* p : group) p->result = inserted.error();
    co_return;
  }
  if (inserted->size() == group.size()) co_return;
  // A shard's guard refused (the batch asked for more than the shard has left): the rows of the
  // other shards are committed; settle the refused ones one by one, so that only those beyond
  // the shard's capacity are refused.
  for (auto* p : group) {
    if (inserted->count(p->r->reservation_id)) continue;
    std::vector<PendingInsert*> one{p};
    auto n = co_await insert_group(one);
    if (!n)
      p->result = n.error();
    else if (n->empty())
      p->result = Error{Errc::sold_out, "the ledger has no stock left"};
  }
}

asio::awaitable<Result<std::unordered_set<std::string>>> ReservationStore::insert_group(
    const std::vector<PendingInsert*>& group) {
  const Reservation& first = *group.front()->r;
  const std::size_t n = group.size();
  pg::ArrayLiteral ids(n * 39), users(n * 16), qtys(n * 2), amounts(n * 8), shards(n * 3),
      idems(n * 8), exps(n * 14), creates(n * 14), events(n * 320), fps(n * 8);
  for (auto* p : group) {
    const Reservation& r = *p->r;
    ids.add(r.reservation_id);
    users.add(r.user_id);
    qtys.add(r.quantity);
    amounts.add(r.amount_cents);
    shards.add(r.shard);
    idems.add_or_null(r.idempotency_key);
    exps.add(to_ms(r.expires_at));
    creates.add(to_ms(r.created_at));
    events.add(reservation_json(r));  // the reservation.created payload
    fps.add_or_null(r.request_fingerprint);
  }
  std::vector<pg::Param> params{
      first.product_id,          std::to_string(first.generation), first.currency,
      std::move(ids).take(),     std::move(users).take(),          std::move(qtys).take(),
      std::move(amounts).take(), std::move(shards).take(),         std::move(idems).take(),
      std::move(exps).take(),    std::move(creates).take(),        std::move(events).take(),
      std::move(fps).take()};
  auto start = std::chrono::steady_clock::now();
  auto rows = co_await db_.query(kInsertBatch, std::move(params));
  metrics_.observe("postgres", "insert_reservations", std::chrono::steady_clock::now() - start,
                   rows ? nullptr : &rows.error());
  if (!rows) co_return std::move(rows).error();
  std::unordered_set<std::string> committed;
  for (std::size_t i = 0; i < rows->size(); ++i) committed.emplace(rows->get(i, 0));
  co_return committed;
}

asio::awaitable<Result<std::optional<Reservation>>> ReservationStore::find(const std::string& id) {
  std::vector<pg::Param> key{id};
  auto start = std::chrono::steady_clock::now();
  auto rows = co_await db_.query(kSelect, std::move(key));
  metrics_.observe("postgres", "find_reservation", std::chrono::steady_clock::now() - start,
                   rows ? nullptr : &rows.error());
  if (!rows) co_return std::move(rows).error();
  if (rows->empty()) co_return std::optional<Reservation>{};
  auto r = reservation_from_row(*rows, 0);
  if (!r) co_return std::move(r).error();
  co_return std::optional<Reservation>{std::move(*r)};
}

asio::awaitable<Result<StatusCounts>> ReservationStore::counts(const std::string& product_id,
                                                               std::int64_t generation) {
  std::vector<pg::Param> key{product_id, std::to_string(generation)};
  auto rows = co_await db_.query(
      "SELECT status, coalesce(sum(quantity), 0)::bigint FROM reservations "
      "WHERE product_id = $1 AND generation = $2 GROUP BY status",
      std::move(key));
  if (!rows) co_return std::move(rows).error();
  StatusCounts c;
  for (std::size_t i = 0; i < rows->size(); ++i) {
    std::int64_t n = 0;
    parse_int(rows->get(i, 1), n);
    auto st = parse_reservation_status(rows->get(i, 0));
    if (!st) continue;
    switch (*st) {
      case ReservationStatus::pending:
        c.pending = n;
        break;
      case ReservationStatus::paying:
        c.paying = n;
        break;
      case ReservationStatus::paid:
        c.paid = n;
        break;
      case ReservationStatus::failed:
        c.failed = n;
        break;
      case ReservationStatus::expired:
        c.expired = n;
        break;
    }
  }
  co_return c;
}

asio::awaitable<Result<bool>> ReservationStore::tombstone_if_absent(const Reservation& r) {
  std::vector<pg::Param> params{r.reservation_id,
                                r.product_id,
                                std::to_string(r.generation),
                                r.user_id,
                                std::to_string(r.quantity),
                                std::to_string(r.amount_cents),
                                r.currency,
                                std::to_string(r.shard),
                                std::to_string(to_ms(r.expires_at)),
                                std::to_string(to_ms(r.created_at))};
  auto rows = co_await db_.query(
      "INSERT INTO reservations (reservation_id, product_id, generation, user_id, quantity, "
      "status, amount_cents, currency, shard, expires_at, created_at, failure_code) "
      "VALUES ($1, $2, $3, $4, $5, 'FAILED', $6, $7, $8, to_timestamp($9 / 1000.0), "
      "to_timestamp($10 / 1000.0), 'not_persisted') "
      "ON CONFLICT (reservation_id) DO NOTHING RETURNING 1",
      std::move(params));
  if (!rows) co_return std::move(rows).error();
  co_return !rows->empty();
}

}  // namespace fs::reservation
