#pragma once
// The "Buy Now" hot path (seed flows 1, 5, 6): product and sale-window check from memory,
// sold-out answer from memory, one atomic Redis script (per-user limit + shard walk +
// decrement + hold), one group-committed PostgreSQL insert, then the 201. One instance per
// I/O thread; it shares the catalog and stock view with the other threads.
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.hpp"
#include "common/random.hpp"
#include "common/result.hpp"
#include "domain/json_views.hpp"
#include "domain/product.hpp"
#include "domain/requests.hpp"
#include "domain/reservation.hpp"

namespace fs::metrics {
class ReservationMetrics;
}
namespace fs::catalog {
class ProductCatalog;
class ProductStore;
}  // namespace fs::catalog
namespace fs::inventory {
class StockShards;
class StockView;
}  // namespace fs::inventory

namespace fs::reservation {

class ReservationStore;
class HoldResolver;

struct ReservationServiceDeps {
  catalog::ProductCatalog& catalog;
  catalog::ProductStore& products;
  inventory::StockShards& stock;
  inventory::StockView& stock_view;
  ReservationStore& store;
  HoldResolver& holds;
  const Clock& clock;
  Random& random;
  metrics::ReservationMetrics& metrics;
};

// An Idempotency-Key and the fingerprint of the request it came with (fingerprint_hash of
// ReservationRequest::fingerprint()), stored with the reservation it creates.
struct IdempotencyTag {
  std::string key;
  std::string request_fingerprint;
};

class ReservationService {
 public:
  explicit ReservationService(ReservationServiceDeps deps) : d_(deps) {}

  // Errors: not_found, sale_not_active, sold_out, limit_exceeded, unavailable.
  boost::asio::awaitable<Result<Reservation>> reserve(const std::string& user_id,
                                                      const ReservationRequest& request,
                                                      std::optional<IdempotencyTag> idempotency);

  // The answer reserve() would give without any I/O, when memory decides it: an unknown
  // product, a sale not active, a quantity above the limit, a sale known sold out (the 410 of
  // a burst's late clicks). Counted as reserve() counts it. std::nullopt: reserve() must run.
  std::optional<Error> refuse_without_io(const ReservationRequest& request) const;

  // The owner's view; another user's reservation is not_found.
  boost::asio::awaitable<Result<Reservation>> get(const std::string& user_id,
                                                  const std::string& reservation_id);

  boost::asio::awaitable<Result<std::shared_ptr<const Product>>> product(
      const std::string& product_id);
  // What the catalog already knows (found or known absent); std::nullopt when only a load from
  // the product store can tell.
  std::optional<Result<std::shared_ptr<const Product>>> cached_product(
      const std::string& product_id) const;
  // Available units as this instance last saw them (lags by up to the refresh interval).
  std::int64_t available(const Product& product) const;

  // Admin: create or replace a sale (PostgreSQL first, then the Redis counters).
  boost::asio::awaitable<Result<Product>> put_product(const Product& product);
  boost::asio::awaitable<Result<ProductStats>> stats(const std::string& product_id);

 private:
  // The refusals decided from the product alone (see refuse_without_io), counted.
  std::optional<Error> refusal(const Result<std::shared_ptr<const Product>>& prod,
                               const ReservationRequest& request, SysTime now) const;

  ReservationServiceDeps d_;
};

}  // namespace fs::reservation
