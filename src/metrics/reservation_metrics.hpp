#pragma once
// Outcomes of "Buy Now" clicks and the stock picture per product.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace prometheus {
class Counter;
class Gauge;
template <typename T>
class Family;
}  // namespace prometheus

namespace fs::metrics {

class MetricsRegistry;
class LocalCounter;

class ReservationMetrics {
 public:
  explicit ReservationMetrics(MetricsRegistry& registry);
  ~ReservationMetrics();
  // outcome: created, sold_out, sold_out_cached, limit_exceeded, sale_not_active, not_found,
  // unavailable, idempotent_replay, idempotency_conflict, invalid_request, unauthorized,
  // db_rejected.
  void outcome(std::string_view outcome);
  void stock_available(std::string_view product_id, std::int64_t units);
  // Holds resolved by reconciliation: result = released | kept | pending.
  void hold_resolved(std::string_view result);

 private:
  LocalCounter& outcome_counter(std::string_view outcome);

  MetricsRegistry& registry_;
  const std::uint64_t id_;
  prometheus::Family<prometheus::Counter>& outcomes_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<LocalCounter>, std::less<>> outcome_counters_;
  prometheus::Family<prometheus::Gauge>& stock_;
  prometheus::Family<prometheus::Counter>& holds_;
};

}  // namespace fs::metrics
