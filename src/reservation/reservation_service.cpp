#include "reservation/reservation_service.hpp"

#include <boost/asio/this_coro.hpp>

#include "catalog/product_catalog.hpp"
#include "catalog/product_store.hpp"
#include "inventory/stock_shards.hpp"
#include "inventory/stock_view.hpp"
#include "metrics/reservation_metrics.hpp"
#include "reservation/hold_resolver.hpp"
#include "reservation/reservation_store.hpp"

namespace fs::reservation {

std::optional<Result<std::shared_ptr<const Product>>> ReservationService::cached_product(
    const std::string& product_id) const {
  std::shared_ptr<const Product> p;
  switch (d_.catalog.find(product_id, &p)) {
    case catalog::ProductCatalog::Lookup::found:
      return Result(std::move(p));
    case catalog::ProductCatalog::Lookup::absent:
      return Result<std::shared_ptr<const Product>>(Error{Errc::not_found, "unknown product"});
    case catalog::ProductCatalog::Lookup::unknown:
      break;
  }
  return std::nullopt;
}

boost::asio::awaitable<Result<std::shared_ptr<const Product>>> ReservationService::product(
    const std::string& product_id) {
  if (auto known = cached_product(product_id)) co_return std::move(*known);
  auto loaded = co_await d_.products.load(product_id);
  if (!loaded) co_return Error{Errc::unavailable, "product store unavailable"};
  if (!*loaded) {
    d_.catalog.put_absent(product_id);
    co_return Error{Errc::not_found, "unknown product"};
  }
  d_.catalog.put(**loaded);
  std::shared_ptr<const Product> p;
  d_.catalog.find(product_id, &p);
  co_return p;
}

std::int64_t ReservationService::available(const Product& product) const {
  if (d_.stock_view.known_sold_out(product.product_id, product.generation)) return 0;
  return d_.stock_view.available(product.product_id, product.generation).value_or(0);
}

std::optional<Error> ReservationService::refusal(const Result<std::shared_ptr<const Product>>& prod,
                                                 const ReservationRequest& request,
                                                 SysTime now) const {
  if (!prod) {
    d_.metrics.outcome(prod.code() == Errc::not_found ? "not_found" : "unavailable");
    return prod.error();
  }
  const Product& p = **prod;
  if (!p.sale_active(now)) {
    d_.metrics.outcome("sale_not_active");
    return Error{Errc::sale_not_active, "the sale is not active"};
  }
  if (request.quantity > p.per_user_limit) {
    d_.metrics.outcome("limit_exceeded");
    return Error{Errc::limit_exceeded, "quantity exceeds the per-user limit"};
  }
  if (d_.stock_view.known_sold_out(p.product_id, p.generation)) {
    d_.metrics.outcome("sold_out_cached");
    return Error{Errc::sold_out, "sold out"};
  }
  return std::nullopt;
}

std::optional<Error> ReservationService::refuse_without_io(
    const ReservationRequest& request) const {
  auto prod = cached_product(request.product_id);
  if (!prod) return std::nullopt;
  return refusal(*prod, request, d_.clock.now());
}

boost::asio::awaitable<Result<Reservation>> ReservationService::reserve(
    const std::string& user_id, const ReservationRequest& request,
    std::optional<IdempotencyTag> idempotency) {
  // A product in the catalog is answered without the coroutine call (a frame and a resumption
  // per click); only a miss loads it.
  auto prod = cached_product(request.product_id);
  if (!prod) {
    // Not `prod = co_await ...`: GCC 12 may destroy the temporary of such an assignment twice.
    auto loaded = co_await product(request.product_id);
    prod.emplace(std::move(loaded));
  }
  const SysTime now = d_.clock.now();
  if (auto refused = refusal(*prod, request, now)) co_return std::move(*refused);
  const Product& p = ***prod;

  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  // Time-ordered (UUIDv7): the ledger's primary-key index grows at its right edge, not at a
  // random page per row (fewer pages dirtied and full-page images written per batch).
  std::string reservation_id = d_.random.uuid_v7(now_ms);
  // The script call is prepared in this frame: no coroutine of StockShards' own on the way.
  inventory::ReserveCall call(d_.stock, p, user_id, request.quantity, reservation_id, now_ms);
  auto reply = co_await call.send();
  auto taken = call.outcome(reply);
  if (!taken) {
    d_.metrics.outcome("unavailable");
    co_return Error{Errc::unavailable, "inventory unavailable"};
  }
  switch (taken->kind) {
    case inventory::ReserveOutcome::Kind::sold_out:
      d_.stock_view.mark_sold_out(p.product_id, p.generation);
      d_.metrics.outcome("sold_out");
      co_return Error{Errc::sold_out, "sold out"};
    case inventory::ReserveOutcome::Kind::limit_exceeded:
      d_.metrics.outcome("limit_exceeded");
      co_return Error{Errc::limit_exceeded, "per-user limit reached for this product"};
    case inventory::ReserveOutcome::Kind::paused:
      // The sale's counters are being rebuilt from the ledger after a Redis failover.
      d_.metrics.outcome("paused");
      co_return Error{Errc::unavailable, "inventory is being reconciled"};
    case inventory::ReserveOutcome::Kind::reserved:
      break;
  }

  // The record is built only for a unit taken: a refused click touches none of it.
  Reservation r;
  r.reservation_id = std::move(reservation_id);
  r.shard = taken->shard;
  r.product_id = p.product_id;
  r.generation = p.generation;
  r.user_id = user_id;
  r.quantity = request.quantity;
  r.amount_cents = p.price_cents * request.quantity;
  r.currency = p.currency;
  if (idempotency) {
    r.idempotency_key = std::move(idempotency->key);
    r.request_fingerprint = std::move(idempotency->request_fingerprint);
  }
  r.created_at = now;
  r.expires_at = now + std::chrono::seconds{p.reservation_ttl_seconds};

  auto saved = co_await d_.store.insert(r);
  if (saved) {
    d_.metrics.outcome("created");
    // The hold mark only spares the crash sweep (HoldResolver) a PostgreSQL lookup: the 201
    // does not wait for it, and the marks of one insert batch share a Redis call.
    d_.stock.commit_hold_soon(co_await boost::asio::this_coro::executor, p, r.reservation_id);
    co_return r;
  }
  if (saved.code() == Errc::sold_out) {
    // The ledger refused: Redis believed in stock the database does not have (e.g. writes lost
    // in a Redis failover). The units must not go back to Redis.
    (void)co_await d_.stock.consume_hold(p, r.reservation_id);
    d_.metrics.outcome("db_rejected");
    co_return Error{Errc::sold_out, "sold out"};
  }
  // Unknown outcome: PostgreSQL settles it as soon as it answers (see HoldResolver).
  d_.holds.resolve_later(p, r);
  d_.metrics.outcome("unavailable");
  co_return Error{Errc::unavailable, "reservation store unavailable"};
}

boost::asio::awaitable<Result<Reservation>> ReservationService::get(
    const std::string& user_id, const std::string& reservation_id) {
  if (!valid_uuid(reservation_id)) co_return Error{Errc::not_found, "unknown reservation"};
  auto found = co_await d_.store.find(reservation_id);
  if (!found) co_return Error{Errc::unavailable, "reservation store unavailable"};
  if (!*found || (*found)->user_id != user_id ||
      (*found)->failure_code == std::optional<std::string>{"not_persisted"})
    co_return Error{Errc::not_found, "unknown reservation"};
  co_return std::move(**found);
}

boost::asio::awaitable<Result<Product>> ReservationService::put_product(const Product& product) {
  auto up = co_await d_.products.upsert(product);
  if (!up) {
    if (up.code() == Errc::sale_in_progress) co_return std::move(up).error();
    co_return Error{Errc::unavailable, "product store unavailable"};
  }
  auto init = co_await d_.stock.initialize(up->product, up->previous_generation);
  if (!init) co_return Error{Errc::unavailable, "inventory unavailable"};
  d_.catalog.put(up->product);
  d_.stock_view.update_available(up->product.product_id, up->product.generation,
                                 up->product.stock_total);
  co_return up->product;
}

boost::asio::awaitable<Result<ProductStats>> ReservationService::stats(
    const std::string& product_id) {
  // Read the ledger fresh, not from the catalog: stats must reflect the current generation.
  auto loaded = co_await d_.products.load(product_id);
  if (!loaded) co_return Error{Errc::unavailable, "product store unavailable"};
  if (!*loaded) co_return Error{Errc::not_found, "unknown product"};
  const Product& p = **loaded;
  ProductStats s;
  s.stock_total = p.stock_total;
  auto counts = co_await d_.store.counts(p.product_id, p.generation);
  if (!counts) co_return Error{Errc::unavailable, "reservation store unavailable"};
  auto levels = co_await d_.stock.levels(p);
  if (!levels) co_return Error{Errc::unavailable, "inventory unavailable"};
  s.shards = std::move(*levels);
  for (auto v : s.shards) s.available += v;
  s.pending = counts->pending;
  s.paying = counts->paying;
  s.paid = counts->paid;
  s.failed = counts->failed;
  s.expired = counts->expired;
  co_return s;
}

}  // namespace fs::reservation
