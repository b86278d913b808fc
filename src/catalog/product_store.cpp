#include "catalog/product_store.hpp"

#include "common/parse_int.hpp"

namespace fs::catalog {
namespace {

constexpr std::string_view kColumns =
    "product_id, name, price_cents, currency, stock_total, per_user_limit, shards, "
    "reservation_ttl_seconds, (extract(epoch from sale_starts_at) * 1000)::bigint AS starts_ms, "
    "(extract(epoch from sale_ends_at) * 1000)::bigint AS ends_ms, generation";

std::optional<SysTime> ms_time(const pg::Rows& rows, std::size_t row, std::size_t col) {
  if (rows.is_null(row, col)) return std::nullopt;
  std::int64_t ms = 0;
  if (!parse_int(rows.get(row, col), ms)) return std::nullopt;
  return SysTime{std::chrono::milliseconds{ms}};
}

pg::Param time_param(const std::optional<SysTime>& t) {
  if (!t) return std::nullopt;
  return format_rfc3339(*t);
}

}  // namespace

Result<Product> product_from_row(const pg::Rows& rows, std::size_t row) {
  Product p;
  p.product_id = std::string(rows.get(row, 0));
  p.name = std::string(rows.get(row, 1));
  p.currency = std::string(rows.get(row, 3));
  bool ok =
      parse_int(rows.get(row, 2), p.price_cents) && parse_int(rows.get(row, 4), p.stock_total) &&
      parse_int(rows.get(row, 5), p.per_user_limit) && parse_int(rows.get(row, 6), p.shards) &&
      parse_int(rows.get(row, 7), p.reservation_ttl_seconds) &&
      parse_int(rows.get(row, 10), p.generation);
  if (!ok) return Error{Errc::protocol_error, "malformed product row"};
  p.sale_starts_at = ms_time(rows, row, 8);
  p.sale_ends_at = ms_time(rows, row, 9);
  return p;
}

boost::asio::awaitable<Result<UpsertOutcome>> ProductStore::upsert(const Product& product) {
  UpsertOutcome out;
  Status st = co_await db_.transaction([&](pg::Session& s) -> boost::asio::awaitable<Status> {
    // Parameter lists are built before co_await: GCC 12 rejects braced lists inside one.
    std::vector<pg::Param> key{product.product_id};
    auto cur = co_await s.query("SELECT generation FROM products WHERE product_id = $1 FOR UPDATE",
                                std::move(key));
    if (!cur) co_return std::move(cur).error();
    if (!cur->empty()) {
      parse_int(cur->get(0, 0), out.previous_generation);
      std::vector<pg::Param> args{product.product_id, std::to_string(out.previous_generation)};
      auto active = co_await s.query(
          "SELECT 1 FROM reservations WHERE product_id = $1 AND generation = $2 "
          "AND status IN ('PENDING', 'PAYING') LIMIT 1",
          std::move(args));
      if (!active) co_return std::move(active).error();
      if (!active->empty())
        co_return Error{Errc::sale_in_progress, "the sale has active reservations"};
    }
    std::string sql =
        "INSERT INTO products (product_id, name, price_cents, currency, stock_total, "
        "per_user_limit, shards, reservation_ttl_seconds, sale_starts_at, sale_ends_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
        "ON CONFLICT (product_id) DO UPDATE SET name = EXCLUDED.name, "
        "price_cents = EXCLUDED.price_cents, currency = EXCLUDED.currency, "
        "stock_total = EXCLUDED.stock_total, "
        "per_user_limit = EXCLUDED.per_user_limit, shards = EXCLUDED.shards, "
        "reservation_ttl_seconds = EXCLUDED.reservation_ttl_seconds, "
        "sale_starts_at = EXCLUDED.sale_starts_at, sale_ends_at = EXCLUDED.sale_ends_at, "
        "generation = products.generation + 1, updated_at = now() RETURNING ";
    sql.append(kColumns);
    std::vector<pg::Param> values{product.product_id,
                                  product.name,
                                  std::to_string(product.price_cents),
                                  product.currency,
                                  std::to_string(product.stock_total),
                                  std::to_string(product.per_user_limit),
                                  std::to_string(product.shards),
                                  std::to_string(product.reservation_ttl_seconds),
                                  time_param(product.sale_starts_at),
                                  time_param(product.sale_ends_at)};
    auto ins = co_await s.query(sql, std::move(values));
    if (!ins) co_return std::move(ins).error();
    auto p = product_from_row(*ins, 0);
    if (!p) co_return std::move(p).error();
    out.product = std::move(*p);
    // The ledger's shards, split like the Redis counters (remainder to the lowest shards).
    std::vector<pg::Param> shard_args{out.product.product_id,
                                      std::to_string(out.product.generation),
                                      std::to_string(out.product.stock_total),
                                      std::to_string(out.product.shards)};
    auto shards = co_await s.query(
        "INSERT INTO stock_shards (product_id, generation, shard, capacity) "
        "SELECT $1, $2, s, $3::bigint / $4 + CASE WHEN s < $3::bigint % $4 THEN 1 ELSE 0 END "
        "FROM generate_series(0, $4::integer - 1) AS s",
        std::move(shard_args));
    if (!shards) co_return std::move(shards).error();
    co_return Status{};
  });
  if (!st) co_return std::move(st).error();
  co_return out;
}

boost::asio::awaitable<Result<std::optional<Product>>> ProductStore::load(
    const std::string& product_id) {
  std::string sql = "SELECT ";
  sql.append(kColumns).append(" FROM products WHERE product_id = $1");
  std::vector<pg::Param> key{product_id};
  auto rows = co_await db_.query(sql, std::move(key));
  if (!rows) co_return std::move(rows).error();
  if (rows->empty()) co_return std::optional<Product>{};
  auto p = product_from_row(*rows, 0);
  if (!p) co_return std::move(p).error();
  co_return std::optional<Product>{std::move(*p)};
}

boost::asio::awaitable<Result<std::vector<Product>>> ProductStore::load_all() {
  std::string sql = "SELECT ";
  sql.append(kColumns).append(" FROM products");
  auto rows = co_await db_.query(sql);
  if (!rows) co_return std::move(rows).error();
  std::vector<Product> out;
  for (std::size_t i = 0; i < rows->size(); ++i) {
    auto p = product_from_row(*rows, i);
    if (!p) co_return std::move(p).error();
    out.push_back(std::move(*p));
  }
  co_return out;
}

}  // namespace fs::catalog
