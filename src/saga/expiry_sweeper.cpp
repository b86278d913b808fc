#include "saga/expiry_sweeper.hpp"

#include <spdlog/spdlog.h>

#include "metrics/saga_metrics.hpp"
#include "saga/saga_store.hpp"
#include "saga/stock_returner.hpp"

namespace fs::saga {

boost::asio::awaitable<std::size_t> ExpirySweeper::sweep_once() {
  std::size_t total = 0;
  for (;;) {
    auto expired = co_await store_.expire_batch(batch_);
    if (!expired) {
      // Deadlock/serialization failures and outages: the next pass retries.
      spdlog::warn("expiry sweeper: {}", expired.error().message);
      co_return total;
    }
    metrics_.expired(static_cast<std::int64_t>(expired->size()));
    total += expired->size();
    // A failed Redis return leaves stock_return_pending set for the repair loop.
    for (auto& r : *expired) (void)co_await returner_.give_back(std::move(r));
    if (expired->size() < batch_) co_return total;
  }
}

}  // namespace fs::saga
