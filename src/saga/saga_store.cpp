#include "saga/saga_store.hpp"

#include <map>
#include <tuple>

#include "common/parse_int.hpp"
#include "domain/json_views.hpp"
#include "domain/payment_saga.hpp"
#include "events/event_log.hpp"
#include "postgres/array_literal.hpp"
#include "reservation/reservation_store.hpp"

namespace fs::saga {
namespace asio = boost::asio;

namespace {

// reservation_from_row's columns, then the saga's.
constexpr std::string_view kCols =
    "reservation_id, product_id, generation, user_id, quantity, status, amount_cents, currency, "
    "shard, idempotency_key, (extract(epoch from expires_at) * 1000)::bigint, "
    "(extract(epoch from created_at) * 1000)::bigint, order_id, payment_id, failure_code, "
    "payment_method, refund_id, saga_attempts";

std::string with_cols(std::string_view head, std::string_view tail = {}) {
  std::string s(head);
  s.append(kCols);
  s.append(tail);
  return s;
}

Result<SagaRecord> record_from_row(const pg::Rows& rows, std::size_t i) {
  auto r = reservation::reservation_from_row(rows, i);
  if (!r) return std::move(r).error();
  SagaRecord out;
  out.reservation = std::move(*r);
  if (!rows.is_null(i, 15)) out.payment_method = std::string(rows.get(i, 15));
  if (!rows.is_null(i, 16)) out.refund_id = std::string(rows.get(i, 16));
  parse_int(rows.get(i, 17), out.saga_attempts);
  return out;
}

Result<std::vector<SagaRecord>> records_from(const pg::Rows& rows) {
  std::vector<SagaRecord> out;
  out.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto r = record_from_row(rows, i);
    if (!r) return std::move(r).error();
    out.push_back(std::move(*r));
  }
  return out;
}

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()); }

constexpr std::string_view kOutboxOne =
    "INSERT INTO outbox (topic, event_key, event_type, payload) VALUES ($1, $2, $3, $4)";

asio::awaitable<Status> outbox(pg::Session& s, std::string topic, std::string key, std::string type,
                               std::string payload) {
  std::vector<pg::Param> p{std::move(topic), std::move(key), std::move(type), std::move(payload)};
  auto r = co_await s.query(kOutboxOne, std::move(p));
  if (!r) co_return std::move(r).error();
  co_return Status{};
}

// Gives allocations back to the ledger, locking the shard rows in key order first (the hot
// path's insert locks them in shard order too), so concurrent givers never deadlock.
asio::awaitable<Status> give_back_allocations(pg::Session& s,
                                              const std::vector<Reservation>& released) {
  std::map<std::tuple<std::string, std::int64_t, int>, std::int64_t> units;
  for (const auto& r : released) units[{r.product_id, r.generation, r.shard}] += r.quantity;
  if (units.empty()) co_return Status{};
  std::vector<std::optional<std::string>> prod, gen, shard, qty;
  for (const auto& [k, n] : units) {
    prod.emplace_back(std::get<0>(k));
    gen.emplace_back(std::to_string(std::get<1>(k)));
    shard.emplace_back(std::to_string(std::get<2>(k)));
    qty.emplace_back(std::to_string(n));
  }
  std::vector<pg::Param> p{pg::array_literal(prod), pg::array_literal(gen),
                           pg::array_literal(shard), pg::array_literal(qty)};
  auto r = co_await s.query(
      "WITH x AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::int[], $4::bigint[]) "
      "  AS t(product_id, generation, shard, units)), "
      "locked AS MATERIALIZED (SELECT s.product_id, s.generation, s.shard FROM stock_shards s "
      "  JOIN x USING (product_id, generation, shard) "
      "  ORDER BY s.product_id, s.generation, s.shard FOR UPDATE OF s) "
      "UPDATE stock_shards s SET allocated = s.allocated - x.units FROM x, locked "
      "WHERE s.product_id = x.product_id AND s.generation = x.generation AND s.shard = x.shard "
      "  AND locked.product_id = x.product_id AND locked.generation = x.generation "
      "  AND locked.shard = x.shard",
      std::move(p));
  if (!r) co_return std::move(r).error();
  co_return Status{};
}

// The first row as a record; nullopt when there is none (a conditional UPDATE that matched
// nothing, an unknown id).
Result<std::optional<SagaRecord>> first_record(const pg::Rows& rows) {
  if (rows.empty()) return std::optional<SagaRecord>{};
  auto r = record_from_row(rows, 0);
  if (!r) return std::move(r).error();
  return std::optional<SagaRecord>{std::move(*r)};
}

// One conditional transition inside a transaction: `sql` is an UPDATE ... RETURNING <kCols>;
// nullopt when its condition matched no row (another transition won).
asio::awaitable<Result<std::optional<Reservation>>> transition(pg::Session& s, std::string sql,
                                                               std::vector<pg::Param> p) {
  auto rows = co_await s.query(sql, std::move(p));
  if (!rows) co_return std::move(rows).error();
  if (rows->empty()) co_return std::optional<Reservation>{};
  auto r = reservation::reservation_from_row(*rows, 0);
  if (!r) co_return std::move(r).error();
  co_return std::optional<Reservation>{std::move(*r)};
}

Result<Order> order_from_row(const pg::Rows& rows, std::size_t i) {
  Order o;
  o.order_id = std::string(rows.get(i, 0));
  o.reservation_id = std::string(rows.get(i, 1));
  o.user_id = std::string(rows.get(i, 2));
  o.product_id = std::string(rows.get(i, 3));
  o.currency = std::string(rows.get(i, 6));
  o.payment_id = std::string(rows.get(i, 7));
  o.status = std::string(rows.get(i, 8));
  std::int64_t created_ms = 0;
  if (!parse_int(rows.get(i, 4), o.quantity) || !parse_int(rows.get(i, 5), o.amount_cents) ||
      !parse_int(rows.get(i, 9), created_ms))
    return Error{Errc::protocol_error, "malformed order row"};
  o.created_at = SysTime{std::chrono::milliseconds{created_ms}};
  return o;
}

constexpr std::string_view kOrderCols =
    "order_id, reservation_id, user_id, product_id, quantity, amount_cents, currency, "
    "payment_id, status, (extract(epoch from created_at) * 1000)::bigint";

}  // namespace

asio::awaitable<Result<std::optional<SagaRecord>>> SagaStore::load(std::string reservation_id) {
  if (!valid_uuid(reservation_id)) co_return std::optional<SagaRecord>{};
  std::vector<pg::Param> p{reservation_id};
  const std::string sql1 = with_cols("SELECT ", " FROM reservations WHERE reservation_id = $1");
  auto rows = co_await db_.query(sql1, std::move(p));
  if (!rows) co_return std::move(rows).error();
  co_return first_record(*rows);
}

asio::awaitable<Result<SagaRecord>> SagaStore::begin_payment(std::string user_id,
                                                             std::string reservation_id,
                                                             std::string payment_method) {
  if (!valid_uuid(reservation_id)) co_return Error{Errc::not_found, "unknown reservation"};
  std::optional<SagaRecord> out;
  Status st = co_await db_.transaction([&](pg::Session& s) -> asio::awaitable<Status> {
    std::vector<pg::Param> key{reservation_id};
    auto cur = co_await s.query(
        "SELECT user_id, status, expires_at > now(), failure_code FROM reservations "
        "WHERE reservation_id = $1 FOR UPDATE",
        std::move(key));
    if (!cur) co_return std::move(cur).error();
    if (cur->empty() || cur->get(0, 0) != user_id ||
        (!cur->is_null(0, 3) && cur->get(0, 3) == "not_persisted"))
      co_return Error{Errc::not_found, "unknown reservation"};
    if (cur->get(0, 1) != "PENDING" || cur->get(0, 2) != "t")
      co_return Error{Errc::invalid_state, "the reservation is no longer PENDING"};
    std::vector<pg::Param> p{reservation_id, payment_method,
                             saga_rules::charge_key(reservation_id)};
    const std::string sql2 = with_cols(
        "UPDATE reservations SET status = 'PAYING', payment_method = $2, "
        "charge_key = $3, saga_step = 'requested', updated_at = now() "
        "WHERE reservation_id = $1 AND status = 'PENDING' AND expires_at > now() "
        "RETURNING ");
    auto rows = co_await s.query(sql2, std::move(p));
    if (!rows) co_return std::move(rows).error();
    if (rows->empty()) co_return Error{Errc::invalid_state, "the reservation is no longer PENDING"};
    auto rec = record_from_row(*rows, 0);
    if (!rec) co_return std::move(rec).error();
    out = std::move(*rec);
    co_return co_await outbox(s, events::topics::payments, reservation_id,
                              events::types::payment_requested, reservation_json(out->reservation));
  });
  if (!st) co_return std::move(st).error();
  co_return std::move(*out);
}

asio::awaitable<Result<std::optional<SagaRecord>>> SagaStore::claim(
    std::string reservation_id, std::chrono::milliseconds lease) {
  if (!valid_uuid(reservation_id)) co_return std::optional<SagaRecord>{};
  std::vector<pg::Param> p{reservation_id, ms(lease)};
  const std::string sql3 = with_cols(
      "UPDATE reservations SET saga_lease_until = now() + $2 * interval '1 millisecond', "
      "saga_attempts = saga_attempts + 1, saga_step = 'claimed' "
      "WHERE reservation_id = $1 AND status = 'PAYING' "
      "AND (saga_lease_until IS NULL OR saga_lease_until < now()) RETURNING ");
  auto rows = co_await db_.query(sql3, std::move(p));
  if (!rows) co_return std::move(rows).error();
  co_return first_record(*rows);
}

asio::awaitable<Result<std::vector<SagaRecord>>> SagaStore::claim_stale(
    std::chrono::milliseconds min_age, std::chrono::milliseconds lease, std::size_t max) {
  std::vector<pg::Param> p{ms(min_age), ms(lease), std::to_string(max)};
  const std::string sql4 = with_cols(
      "UPDATE reservations SET saga_lease_until = now() + $2 * interval '1 millisecond', "
      "saga_attempts = saga_attempts + 1, saga_step = 'claimed' "
      "WHERE status = 'PAYING' AND reservation_id IN ("
      "  SELECT reservation_id FROM reservations WHERE status = 'PAYING' "
      "  AND (saga_lease_until IS NULL OR saga_lease_until < now()) "
      "  AND updated_at <= now() - $1 * interval '1 millisecond' "
      "  ORDER BY updated_at LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING ");
  auto rows = co_await db_.query(sql4, std::move(p));
  if (!rows) co_return std::move(rows).error();
  co_return records_from(*rows);
}

asio::awaitable<Status> SagaStore::renew_leases(std::vector<std::string> reservation_ids,
                                                std::chrono::milliseconds lease) {
  if (reservation_ids.empty()) co_return Status{};
  std::vector<std::optional<std::string>> ids(reservation_ids.begin(), reservation_ids.end());
  std::vector<pg::Param> p{pg::array_literal(ids), ms(lease)};
  auto r = co_await db_.query(
      "UPDATE reservations SET saga_lease_until = now() + $2 * interval '1 millisecond' "
      "WHERE reservation_id = ANY($1::uuid[]) AND status = 'PAYING' "
      "AND saga_lease_until IS NOT NULL",
      std::move(p));
  if (!r) co_return std::move(r).error();
  co_return Status{};
}

asio::awaitable<Status> SagaStore::release_lease(std::string reservation_id) {
  std::vector<pg::Param> p{reservation_id};
  auto r = co_await db_.query(
      "UPDATE reservations SET saga_lease_until = NULL WHERE reservation_id = $1 "
      "AND status = 'PAYING'",
      std::move(p));
  if (!r) co_return std::move(r).error();
  co_return Status{};
}

asio::awaitable<Result<std::optional<Order>>> SagaStore::complete_paid(std::string reservation_id,
                                                                       std::string payment_id) {
  std::optional<Order> out;
  Status st = co_await db_.transaction([&](pg::Session& s) -> asio::awaitable<Status> {
    std::vector<pg::Param> p{reservation_id, payment_id};
    const std::string sql5 = with_cols(
        "UPDATE reservations SET status = 'PAID', order_id = gen_random_uuid(), "
        "payment_id = $2, saga_step = 'paid', saga_lease_until = NULL, "
        "updated_at = now() WHERE reservation_id = $1 AND status = 'PAYING' "
        "RETURNING ");
    auto rec = co_await transition(s, sql5, std::move(p));
    if (!rec) co_return std::move(rec).error();
    if (!*rec) co_return Status{};  // someone else settled it: nothing to write
    const Reservation& r = **rec;
    std::vector<pg::Param> o{*r.order_id,
                             r.reservation_id,
                             r.user_id,
                             r.product_id,
                             std::to_string(r.quantity),
                             std::to_string(r.amount_cents),
                             r.currency,
                             payment_id};
    const std::string sql6 =
        std::string(
            "INSERT INTO orders (order_id, reservation_id, user_id, product_id, quantity, "
            "amount_cents, currency, payment_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
            "RETURNING ")
            .append(kOrderCols);
    auto ins = co_await s.query(sql6, std::move(o));
    if (!ins) co_return std::move(ins).error();
    auto order = order_from_row(*ins, 0);
    if (!order) co_return std::move(order).error();
    out = std::move(*order);
    auto a = co_await outbox(s, events::topics::reservations, reservation_id,
                             events::types::payment_succeeded, reservation_json(r));
    if (!a) co_return a;
    co_return co_await outbox(s, events::topics::reservations, reservation_id,
                              events::types::order_confirmed, order_json(*out));
  });
  if (!st) co_return std::move(st).error();
  co_return out;
}

asio::awaitable<Result<std::optional<Reservation>>> SagaStore::fail(std::string reservation_id,
                                                                    std::string failure_code) {
  std::optional<Reservation> out;
  Status st = co_await db_.transaction([&](pg::Session& s) -> asio::awaitable<Status> {
    std::vector<pg::Param> p{reservation_id, failure_code};
    const std::string sql7 = with_cols(
        "UPDATE reservations SET status = 'FAILED', failure_code = $2, "
        "stock_return_pending = true, saga_step = 'failed', saga_lease_until = NULL, "
        "updated_at = now() WHERE reservation_id = $1 AND status = 'PAYING' "
        "RETURNING ");
    auto rec = co_await transition(s, sql7, std::move(p));
    if (!rec) co_return std::move(rec).error();
    if (!*rec) co_return Status{};
    out = std::move(*rec);
    std::vector<Reservation> released{*out};
    auto g = co_await give_back_allocations(s, released);
    if (!g) co_return g;
    co_return co_await outbox(s, events::topics::reservations, reservation_id,
                              events::types::payment_failed, reservation_json(*out));
  });
  if (!st) co_return std::move(st).error();
  co_return out;
}

asio::awaitable<Status> SagaStore::record_refund(std::string reservation_id,
                                                 std::string refund_id) {
  Status st = co_await db_.transaction([&](pg::Session& s) -> asio::awaitable<Status> {
    std::vector<pg::Param> p{reservation_id, refund_id};
    const std::string sql8 = with_cols(
        "UPDATE reservations SET refund_id = $2 WHERE reservation_id = $1 "
        "AND refund_id IS NULL RETURNING ");
    auto rec = co_await transition(s, sql8, std::move(p));
    if (!rec) co_return std::move(rec).error();
    if (!*rec) co_return Status{};
    co_return co_await outbox(s, events::topics::reservations, reservation_id,
                              events::types::payment_refunded, reservation_json(**rec));
  });
  co_return st;
}

asio::awaitable<Result<std::vector<Reservation>>> SagaStore::expire_batch(std::size_t max) {
  std::vector<Reservation> out;
  Status st = co_await db_.transaction([&](pg::Session& s) -> asio::awaitable<Status> {
    out.clear();
    std::vector<pg::Param> p{std::to_string(max)};
    const std::string sql9 = with_cols(
        "UPDATE reservations SET status = 'EXPIRED', stock_return_pending = true, "
        "saga_step = 'expired', updated_at = now() "
        "WHERE status = 'PENDING' AND reservation_id IN ("
        "  SELECT reservation_id FROM reservations WHERE status = 'PENDING' "
        "  AND expires_at <= now() ORDER BY expires_at LIMIT $1 "
        "  FOR UPDATE SKIP LOCKED) RETURNING ");
    auto rows = co_await s.query(sql9, std::move(p));
    if (!rows) co_return std::move(rows).error();
    if (rows->empty()) co_return Status{};
    for (std::size_t i = 0; i < rows->size(); ++i) {
      auto r = reservation::reservation_from_row(*rows, i);
      if (!r) co_return std::move(r).error();
      out.push_back(std::move(*r));
    }
    auto g = co_await give_back_allocations(s, out);
    if (!g) co_return g;
    std::vector<std::optional<std::string>> keys, payloads;
    for (const auto& r : out) {
      keys.emplace_back(r.reservation_id);
      payloads.emplace_back(reservation_json(r));
    }
    std::vector<pg::Param> ob{std::string(events::topics::reservations),
                              std::string(events::types::reservation_expired),
                              pg::array_literal(keys), pg::array_literal(payloads)};
    auto ins = co_await s.query(
        "INSERT INTO outbox (topic, event_key, event_type, payload) "
        "SELECT $1, k, $2, v FROM unnest($3::text[], $4::text[]) AS t(k, v)",
        std::move(ob));
    if (!ins) co_return std::move(ins).error();
    co_return Status{};
  });
  if (!st) co_return std::move(st).error();
  co_return out;
}

asio::awaitable<Result<std::vector<Reservation>>> SagaStore::returns_pending(
    std::chrono::milliseconds min_age, std::size_t max) {
  std::vector<pg::Param> p{ms(min_age), std::to_string(max)};
  const std::string sql10 = with_cols("SELECT ",
                                      " FROM reservations WHERE stock_return_pending "
                                      "AND updated_at <= now() - $1 * interval '1 millisecond' "
                                      "ORDER BY updated_at LIMIT $2");
  auto rows = co_await db_.query(sql10, std::move(p));
  if (!rows) co_return std::move(rows).error();
  std::vector<Reservation> out;
  for (std::size_t i = 0; i < rows->size(); ++i) {
    auto r = reservation::reservation_from_row(*rows, i);
    if (!r) co_return std::move(r).error();
    out.push_back(std::move(*r));
  }
  co_return out;
}

asio::awaitable<Status> SagaStore::mark_returned(std::string reservation_id) {
  std::vector<pg::Param> p{reservation_id};
  auto r = co_await db_.query(
      "UPDATE reservations SET stock_return_pending = false WHERE reservation_id = $1",
      std::move(p));
  if (!r) co_return std::move(r).error();
  co_return Status{};
}

asio::awaitable<Result<Order>> SagaStore::order(std::string user_id, std::string order_id) {
  if (!valid_uuid(order_id)) co_return Error{Errc::not_found, "unknown order"};
  std::vector<pg::Param> p{order_id};
  const std::string sql11 =
      std::string("SELECT ").append(kOrderCols).append(" FROM orders WHERE order_id = $1");
  auto rows = co_await db_.query(sql11, std::move(p));
  if (!rows) co_return std::move(rows).error();
  if (rows->empty() || rows->get(0, 2) != user_id)
    co_return Error{Errc::not_found, "unknown order"};
  co_return order_from_row(*rows, 0);
}

}  // namespace fs::saga
