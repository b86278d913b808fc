#include "reservation/stock_reconciler.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/parse_int.hpp"
#include "domain/json_views.hpp"
#include "postgres/database.hpp"
#include "redis/redis_client.hpp"
#include "reservation/idempotency_store.hpp"
#include "reservation/reservation_store.hpp"

namespace fs::reservation {
namespace asio = boost::asio;

std::string run_id_from_info(std::string_view info) {
  constexpr std::string_view key = "run_id:";
  auto at = info.find(key);
  if (at == std::string_view::npos) return {};
  at += key.size();
  auto end = info.find_first_of("\r\n", at);
  return std::string(info.substr(at, end == std::string_view::npos ? end : end - at));
}

StockReconciler::StockReconciler(asio::any_io_executor executor, redis::Client& redis,
                                 pg::Database& db, inventory::StockShards& stock,
                                 ReconcilerConfig config)
    : executor_(std::move(executor)), redis_(redis), db_(db), stock_(stock), config_(config) {}

asio::awaitable<Result<std::optional<std::string>>> StockReconciler::master_changed() {
  std::vector<std::string> info{"INFO", "server"};
  auto r = co_await redis_.command(std::move(info));
  if (!r) co_return std::move(r).error();
  std::string run_id = run_id_from_info(r->str);
  if (run_id.empty()) co_return Error{Errc::protocol_error, "INFO server without run_id"};
  std::vector<std::string> get{"GET", kReconciledRunIdKey};
  auto seen = co_await redis_.command(std::move(get));
  if (!seen) co_return std::move(seen).error();
  if (!seen->is_nil() && seen->str == run_id) co_return std::optional<std::string>{};
  co_return std::optional<std::string>{std::move(run_id)};
}

asio::awaitable<Result<StockReconciler::Outcome>> StockReconciler::rebuild(
    std::string run_id, std::vector<std::shared_ptr<const Product>> products) {
  Outcome out;
  const std::string lock_key = "fs:redis:reconcile_lock:" + run_id;
  std::vector<std::string> lock{"SET", lock_key, "1",
                                "NX",  "PX",     std::to_string(config_.lock_ttl.count())};
  auto locked = co_await redis_.command(std::move(lock));
  if (!locked) co_return std::move(locked).error();
  if (locked->is_nil()) co_return out;  // another instance is at it
  out.done_here = true;
  out.sales = products.size();
  auto st = co_await reconcile(std::move(products));
  if (!st) {
    // Let another attempt (this instance's next check or another one) take the lock again.
    std::vector<std::string> unlock{"DEL", lock_key};
    (void)co_await redis_.command(std::move(unlock));
    co_return std::move(st).error();
  }
  std::vector<std::string> mark{"SET", kReconciledRunIdKey, run_id};
  auto marked = co_await redis_.command(std::move(mark));
  if (!marked) co_return std::move(marked).error();
  co_return out;
}

asio::awaitable<Status> StockReconciler::reconcile(
    std::vector<std::shared_ptr<const Product>> products) {
  if (products.empty()) co_return Status{};
  // The pause outlives a reconciler that dies half-way only by this much.
  const auto pause_ttl = 2 * config_.settle + std::chrono::seconds{10};
  for (const auto& p : products) {
    auto st = co_await stock_.pause(*p, pause_ttl);
    if (!st) co_return st;
  }
  asio::steady_timer timer(executor_);
  timer.expires_after(config_.settle);
  auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (ec) co_return Error{Errc::cancelled, "reconcile cancelled"};
  for (const auto& p : products) {
    auto state = co_await ledger_state(*p);
    if (!state) co_return std::move(state).error();
    auto st = co_await stock_.rewrite(*p, *state);
    if (!st) co_return st;
  }
  // After the counters: sales are open again while the records go back (a retry in between
  // is refused by the per-user count that was just rebuilt, at worst a 409 instead of a replay).
  for (const auto& p : products) {
    auto restored = co_await restore_idempotency(*p);
    if (!restored) co_return std::move(restored).error();
  }
  co_return Status{};
}

asio::awaitable<Result<std::size_t>> StockReconciler::restore_idempotency(const Product& product) {
  // Built outside co_await: GCC 12 rejects a braced list inside one.
  std::vector<pg::Param> params{product.product_id, std::to_string(product.generation),
                                std::to_string(kIdempotencyKeep.count())};
  // The columns reservation_from_row reads, the 201 as it was (PENDING, no saga fields yet),
  // then the fingerprint and the seconds the record has left to live.
  auto rows = co_await db_.query(
      "SELECT reservation_id, product_id, generation, user_id, quantity, 'PENDING', amount_cents, "
      "currency, shard, idempotency_key, (extract(epoch from expires_at) * 1000)::bigint, "
      "(extract(epoch from created_at) * 1000)::bigint, NULL, NULL, NULL, request_fingerprint, "
      "ceil(extract(epoch from created_at + make_interval(secs => $3::int) - now()))::bigint "
      "FROM reservations WHERE product_id = $1 AND generation = $2 "
      "AND idempotency_key IS NOT NULL AND request_fingerprint IS NOT NULL "
      "AND created_at > now() - make_interval(secs => $3::int)",
      params);
  if (!rows) co_return std::move(rows).error();
  IdempotencyStore records(redis_);
  for (std::size_t i = 0; i < rows->size(); ++i) {
    auto r = reservation_from_row(*rows, i);
    std::int64_t ttl = 0;
    if (!r || !parse_int(rows->get(i, 16), ttl))
      co_return Error{Errc::protocol_error, "malformed reservation row"};
    auto st =
        co_await records.restore(r->user_id, *r->idempotency_key, std::string(rows->get(i, 15)),
                                 201, reservation_json(*r), std::chrono::seconds{ttl});
    if (!st) co_return std::move(st).error();
  }
  co_return rows->size();
}

asio::awaitable<Result<inventory::StockShards::LedgerState>> StockReconciler::ledger_state(
    const Product& product) {
  inventory::StockShards::LedgerState state;
  std::vector<pg::Param> key{product.product_id, std::to_string(product.generation)};
  auto levels = co_await db_.query(
      "SELECT shard, capacity - allocated FROM stock_shards "
      "WHERE product_id = $1 AND generation = $2 ORDER BY shard",
      key);
  if (!levels) co_return std::move(levels).error();
  if (levels->size() != static_cast<std::size_t>(product.shards))
    co_return Error{Errc::invalid_state, "stock_shards rows do not match the product's shards"};
  for (std::size_t i = 0; i < levels->size(); ++i) {
    std::int64_t shard = -1, level = 0;
    if (!parse_int(levels->get(i, 0), shard) || shard != static_cast<std::int64_t>(i) ||
        !parse_int(levels->get(i, 1), level))
      co_return Error{Errc::protocol_error, "malformed stock_shards row"};
    state.levels.push_back(level);
  }
  auto users = co_await db_.query(
      "SELECT user_id, sum(quantity)::bigint FROM reservations "
      "WHERE product_id = $1 AND generation = $2 AND status IN ('PENDING', 'PAYING', 'PAID') "
      "GROUP BY user_id",
      key);
  if (!users) co_return std::move(users).error();
  for (std::size_t i = 0; i < users->size(); ++i) {
    std::int64_t units = 0;
    if (!parse_int(users->get(i, 1), units))
      co_return Error{Errc::protocol_error, "malformed per-user sum"};
    state.user_units.emplace_back(std::string(users->get(i, 0)), units);
  }
  auto holds = co_await db_.query(
      "SELECT reservation_id, user_id, quantity, shard, "
      "(extract(epoch from created_at) * 1000)::bigint FROM reservations "
      "WHERE product_id = $1 AND generation = $2 AND status IN ('PENDING', 'PAYING')",
      key);
  if (!holds) co_return std::move(holds).error();
  for (std::size_t i = 0; i < holds->size(); ++i) {
    inventory::Hold h;
    h.reservation_id = std::string(holds->get(i, 0));
    h.user_id = std::string(holds->get(i, 1));
    h.state = 'c';
    if (!parse_int(holds->get(i, 2), h.quantity) || !parse_int(holds->get(i, 3), h.shard) ||
        !parse_int(holds->get(i, 4), h.taken_at_ms))
      co_return Error{Errc::protocol_error, "malformed reservation row"};
    state.holds.push_back(std::move(h));
  }
  co_return state;
}

}  // namespace fs::reservation
