#include "saga/stock_returner.hpp"

#include "domain/product.hpp"
#include "inventory/stock_shards.hpp"
#include "metrics/saga_metrics.hpp"
#include "saga/saga_store.hpp"

namespace fs::saga {

boost::asio::awaitable<Result<bool>> StockReturner::give_back(Reservation r) {
  Product p;  // the Redis keys need only the product id and the sale generation
  p.product_id = r.product_id;
  p.generation = r.generation;
  auto released = co_await stock_.release(p, r.user_id, r.shard, r.quantity, r.reservation_id);
  if (!released) {
    metrics_.stock_return("error");
    co_return std::move(released).error();
  }
  metrics_.stock_return(*released ? "returned" : "already");
  auto marked = co_await store_.mark_returned(r.reservation_id);
  if (!marked) co_return std::move(marked).error();
  co_return *released;
}

boost::asio::awaitable<std::size_t> StockReturner::repair(std::chrono::milliseconds min_age,
                                                          std::size_t max) {
  auto pending = co_await store_.returns_pending(min_age, max);
  if (!pending) co_return 0;
  std::size_t settled = 0;
  for (auto& r : *pending) {
    auto done = co_await give_back(std::move(r));
    if (done) ++settled;
  }
  co_return settled;
}

}  // namespace fs::saga
