#pragma once
// Gives the units of a FAILED or EXPIRED reservation back to Redis, exactly once. The database
// transition (which already gave the allocation back in stock_shards) set
// stock_return_pending; here the release script deletes the reservation's hold and increments
// the shard in one atomic step (a second release finds no hold and does nothing), and lowers
// the user's count so the user may reserve again; then the flag is cleared. A crash between the
// two leaves the flag set, and repair() finishes the job (the release is idempotent).
#include <boost/asio/awaitable.hpp>
#include <chrono>

#include "common/result.hpp"
#include "domain/reservation.hpp"

namespace fs::inventory {
class StockShards;
}
namespace fs::metrics {
class SagaMetrics;
}

namespace fs::saga {

class SagaStore;

class StockReturner {
 public:
  StockReturner(SagaStore& store, inventory::StockShards& stock, metrics::SagaMetrics& metrics)
      : store_(store), stock_(stock), metrics_(metrics) {}

  // true when this call put the units back (false: the hold was already gone).
  boost::asio::awaitable<Result<bool>> give_back(Reservation r);

  // Finishes returns left pending for at least `min_age`; returns how many were settled.
  boost::asio::awaitable<std::size_t> repair(std::chrono::milliseconds min_age,
                                             std::size_t max = 1000);

 private:
  SagaStore& store_;
  inventory::StockShards& stock_;
  metrics::SagaMetrics& metrics_;
};

}  // namespace fs::saga
