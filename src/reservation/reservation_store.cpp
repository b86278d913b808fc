#include "reservation/reservation_store.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <unordered_set>

#include "common/parse_int.hpp"
#include "metrics/backend_metrics.hpp"

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

std::string pg_array_literal(const std::vector<std::optional<std::string>>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out.push_back(',');
    if (!items[i]) {
      out.append("NULL");
      continue;
    }
    out.push_back('"');
    for (char c : *items[i]) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

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

struct ReservationStore::Pending {
  const Reservation* r;
  Status result;
  asio::steady_timer* done;    // on the caller's executor
  asio::any_io_executor home;  // the caller's executor
  bool remote = false;         // batched by another thread's store (its lane)
  bool completed = false;      // written on the caller's executor only
};

void InsertLanes::add(ReservationStore& store) {
  store.lanes_ = this;
  stores_.push_back(&store);
}

void InsertLanes::attach(ReservationStore& store) { store.lanes_ = this; }

ReservationStore& InsertLanes::lane(std::int64_t shard) const {
  const auto n = static_cast<std::int64_t>(stores_.size());
  return *stores_[static_cast<std::size_t>(((shard % n) + n) % n)];
}

ReservationStore::ReservationStore(asio::any_io_executor executor, pg::Database& db,
                                   metrics::BackendMetrics& metrics,
                                   std::size_t max_concurrent_batches, std::size_t max_batch)
    : executor_(std::move(executor)),
      db_(db),
      metrics_(metrics),
      max_batch_(max_batch ? max_batch : 1),
      sublanes_(max_concurrent_batches ? max_concurrent_batches : 1) {}

ReservationStore::~ReservationStore() = default;

asio::awaitable<Status> ReservationStore::insert(const Reservation& r) {
  const auto start = std::chrono::steady_clock::now();
  asio::steady_timer done(executor_, asio::steady_timer::time_point::max());
  Pending p{&r, Status{}, &done, executor_};
  ReservationStore& lane = lanes_ && lanes_->size() > 0 ? lanes_->lane(r.shard) : *this;
  if (&lane == this) {
    enqueue(&p);
  } else {
    // The lane's queue and database belong to its thread: hand the request over; the lane
    // posts the completion back here (flush()).
    p.remote = true;
    asio::post(lane.executor_, [&lane, pp = &p] { lane.enqueue(pp); });
  }
  // co_spawn may run the flush inline up to its first suspension, and a database that is down
  // answers without suspending: the batch can be complete before we get here.
  while (!p.completed) co_await done.async_wait(asio::as_tuple(asio::use_awaitable));
  // The whole wait of one reservation: its queue, the batch statement (insert_reservations), and
  // the hand-offs to and from its lane's thread.
  metrics_.observe("postgres", "reservation_commit", std::chrono::steady_clock::now() - start,
                   p.result ? nullptr : &p.result.error());
  co_return p.result;
}

void ReservationStore::enqueue(Pending* p) {
  // This store batches the shards s with s % stores == its lane; of those, sub-lane i takes
  // the ones with (s / stores) % sub-lanes == i: every (store, sub-lane) owns the shards of one
  // residue of s modulo stores * sub-lanes.
  const auto stores = static_cast<std::int64_t>(lanes_ && lanes_->size() > 1 ? lanes_->size() : 1);
  const auto subs = static_cast<std::int64_t>(sublanes_.size());
  const std::int64_t shard = p->r->shard < 0 ? -p->r->shard : p->r->shard;
  const auto lane = static_cast<std::size_t>((shard / stores) % subs);
  sublanes_[lane].queue.push_back(p);
  maybe_flush(lane);
}

void ReservationStore::maybe_flush(std::size_t lane) {
  Lane& l = sublanes_[lane];
  if (l.queue.empty() || l.active) return;
  std::vector<Pending*> batch;
  while (!l.queue.empty() && batch.size() < max_batch_) {
    batch.push_back(l.queue.front());
    l.queue.pop_front();
  }
  l.active = true;
  asio::co_spawn(executor_, flush(lane, std::move(batch)), asio::detached);
}

asio::awaitable<void> ReservationStore::flush(std::size_t lane, std::vector<Pending*> batch) {
  metrics_.batch_size(batch.size());
  // Group by sale; a flash sale is usually one product, so usually one statement and one commit.
  std::map<std::pair<std::string, std::int64_t>, std::vector<Pending*>> groups;
  for (auto* p : batch) groups[{p->r->product_id, p->r->generation}].push_back(p);
  for (auto& entry : groups) co_await settle_group(entry.second);
  for (auto* p : batch) {
    if (p->remote) {
      asio::post(p->home, [p] {
        p->completed = true;
        p->done->cancel();
      });
    } else {
      p->completed = true;
      p->done->cancel();
    }
  }
  sublanes_[lane].active = false;
  maybe_flush(lane);
}

asio::awaitable<void> ReservationStore::settle_group(std::vector<Pending*>& group) {
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
    std::vector<Pending*> one{p};
    auto n = co_await insert_group(one);
    if (!n)
      p->result = n.error();
    else if (n->empty())
      p->result = Error{Errc::sold_out, "the ledger has no stock left"};
  }
}

asio::awaitable<Result<std::unordered_set<std::string>>> ReservationStore::insert_group(
    const std::vector<Pending*>& group) {
  const Reservation& first = *group.front()->r;
  std::vector<std::optional<std::string>> ids, users, qtys, amounts, shards, idems, exps, creates,
      events, fps;
  for (auto* p : group) {
    const Reservation& r = *p->r;
    ids.emplace_back(r.reservation_id);
    users.emplace_back(r.user_id);
    qtys.emplace_back(std::to_string(r.quantity));
    amounts.emplace_back(std::to_string(r.amount_cents));
    shards.emplace_back(std::to_string(r.shard));
    idems.emplace_back(r.idempotency_key);
    exps.emplace_back(std::to_string(to_ms(r.expires_at)));
    creates.emplace_back(std::to_string(to_ms(r.created_at)));
    events.emplace_back(reservation_json(r));  // the reservation.created payload
    fps.emplace_back(r.request_fingerprint);
  }
  std::vector<pg::Param> params{
      first.product_id,          std::to_string(first.generation), first.currency,
      pg_array_literal(ids),     pg_array_literal(users),          pg_array_literal(qtys),
      pg_array_literal(amounts), pg_array_literal(shards),         pg_array_literal(idems),
      pg_array_literal(exps),    pg_array_literal(creates),        pg_array_literal(events),
      pg_array_literal(fps)};
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
