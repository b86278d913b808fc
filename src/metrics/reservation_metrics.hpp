#pragma once
// Outcomes of "Buy Now" clicks and the stock picture per product.
#include <cstdint>
#include <string_view>

namespace prometheus {
class Counter;
class Gauge;
template <typename T>
class Family;
}  // namespace prometheus

namespace fs::metrics {

class MetricsRegistry;

class ReservationMetrics {
 public:
  explicit ReservationMetrics(MetricsRegistry& registry);
  // outcome: created, sold_out, sold_out_cached, limit_exceeded, sale_not_active, not_found,
  // unavailable, idempotent_replay, idempotency_conflict, invalid_request, unauthorized,
  // db_rejected.
  void outcome(std::string_view outcome);
  void stock_available(std::string_view product_id, std::int64_t units);
  // Holds resolved by reconciliation: result = released | kept | pending.
  void hold_resolved(std::string_view result);

 private:
  prometheus::Family<prometheus::Counter>& outcomes_;
  prometheus::Family<prometheus::Gauge>& stock_;
  prometheus::Family<prometheus::Counter>& holds_;
};

}  // namespace fs::metrics
