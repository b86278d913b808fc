#pragma once
// The expiry sweeper (seed flow 4), a worker role; several may run at once. Each pass takes
// expired PENDING reservations in batches (FOR UPDATE SKIP LOCKED, so concurrent sweepers split
// the work instead of sharing rows), marks each EXPIRED with a conditional update that also
// gives the allocation back in stock_shards and emits reservation.expired (one transaction),
// then returns the units to Redis through their holds (exactly once). PAYING reservations are
// never expired: their payment is queued, and only the saga ends them.
#include <boost/asio/awaitable.hpp>
#include <cstddef>

namespace fs::metrics {
class SagaMetrics;
}

namespace fs::saga {

class SagaStore;
class StockReturner;

class ExpirySweeper {
 public:
  ExpirySweeper(SagaStore& store, StockReturner& returner, metrics::SagaMetrics& metrics,
                std::size_t batch = 1000)
      : store_(store), returner_(returner), metrics_(metrics), batch_(batch) {}

  // One pass: batches until a batch comes back short. Returns the reservations expired.
  boost::asio::awaitable<std::size_t> sweep_once();

 private:
  SagaStore& store_;
  StockReturner& returner_;
  metrics::SagaMetrics& metrics_;
  std::size_t batch_;
};

}  // namespace fs::saga
