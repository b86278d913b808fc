#pragma once
// The payment saga, the expiry sweeper and stock returns: saga steps, charges by outcome,
// retries, compensations, expiries, refunds, and units given back to Redis.
#include <cstdint>
#include <string_view>

namespace prometheus {
class Counter;
template <typename T>
class Family;
}  // namespace prometheus

namespace fs::metrics {

class MetricsRegistry;

class SagaMetrics {
 public:
  explicit SagaMetrics(MetricsRegistry& registry);
  // step: requested, claimed, busy, already_final, paid, failed, refunded, gave_up.
  void step(std::string_view step);
  // outcome: succeeded, declined, rejected, retry.
  void charge(std::string_view outcome);
  void retry();
  void compensation();
  void expired(std::int64_t n);
  void refund(std::string_view result);  // succeeded, error
  // result: returned (units back now), already (the hold was gone), error.
  void stock_return(std::string_view result);

 private:
  prometheus::Family<prometheus::Counter>& steps_;
  prometheus::Family<prometheus::Counter>& charges_;
  prometheus::Counter& retries_;
  prometheus::Counter& compensations_;
  prometheus::Counter& expiries_;
  prometheus::Family<prometheus::Counter>& refunds_;
  prometheus::Family<prometheus::Counter>& returns_;
};

}  // namespace fs::metrics
