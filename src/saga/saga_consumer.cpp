#include "saga/saga_consumer.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "events/event_log.hpp"
#include "saga/payment_saga.hpp"

namespace fs::saga {
namespace asio = boost::asio;

asio::awaitable<void> SagaConsumer::run(std::function<bool()> stopping) {
  auto ex = co_await asio::this_coro::executor;
  bool grouped = false;
  while (!stopping()) {
    if (!grouped) {
      auto g = co_await log_.ensure_group(events::topics::reservations, kSagaGroup);
      grouped = g.ok();
    }
    auto batch = grouped ? co_await log_.consume(events::topics::reservations, kSagaGroup,
                                                 options_.consumer, options_.max_batch,
                                                 options_.block, options_.reclaim_idle)
                         : Result<std::vector<events::Delivery>>{Error{Errc::unavailable}};
    if (!batch) {
      asio::steady_timer t(ex, std::chrono::milliseconds{500});
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    for (auto& d : *batch) {
      if (d.event.type == events::types::payment_requested && !d.event.key.empty()) {
        auto st = co_await saga_.handle(d.event.key);
        if (!st) {
          spdlog::warn("saga: {} not settled ({}); left for redelivery", d.event.key,
                       st.error().message);
          continue;  // not acked: redelivered after reclaim_idle
        }
      }
      (void)co_await log_.ack(kSagaGroup, std::move(d));
    }
  }
}

}  // namespace fs::saga
