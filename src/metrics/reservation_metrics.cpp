#include "metrics/reservation_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <string>
#include <unordered_map>

#include "metrics/local_metrics.hpp"
#include "metrics/metrics_registry.hpp"

namespace fs::metrics {

ReservationMetrics::ReservationMetrics(MetricsRegistry& registry)
    : registry_(registry),
      id_(detail::new_owner_id()),
      outcomes_(prometheus::BuildCounter()
                    .Name("flashsale_reservations_total")
                    .Help("Reservation attempts by outcome (every rejection reason is one label)")
                    .Register(registry.prometheus())),
      stock_(prometheus::BuildGauge()
                 .Name("flashsale_stock_available")
                 .Help("Units available in Redis per product (refreshed ~10x/s)")
                 .Register(registry.prometheus())),
      holds_(prometheus::BuildCounter()
                 .Name("flashsale_stock_holds_resolved_total")
                 .Help("Stock holds whose PostgreSQL outcome was unknown, by resolution")
                 .Register(registry.prometheus())) {
  for (const char* o : {"created", "sold_out", "sold_out_cached", "limit_exceeded",
                        "sale_not_active", "not_found", "unavailable", "idempotent_replay",
                        "idempotency_conflict", "invalid_request", "unauthorized", "db_rejected"})
    outcome_counter(o);
}

ReservationMetrics::~ReservationMetrics() = default;

LocalCounter& ReservationMetrics::outcome_counter(std::string_view outcome) {
  std::lock_guard lock(mu_);
  auto& c = outcome_counters_[std::string(outcome)];
  if (!c)
    c = std::make_unique<LocalCounter>(registry_,
                                       outcomes_.Add({{"outcome", std::string(outcome)}}));
  return *c;
}

void ReservationMetrics::outcome(std::string_view outcome) {
  // Per-thread cells (local_metrics.hpp); the lookup is cached per thread.
  thread_local std::unordered_map<std::string_view, LocalCounter*> cache;
  thread_local std::uint64_t owner = 0;
  if (owner != id_) {
    cache.clear();
    owner = id_;
  }
  auto it = cache.find(outcome);
  if (it == cache.end()) {
    LocalCounter& c = outcome_counter(outcome);
    // The key must outlive the cache entry: use the map's own copy of the name.
    std::lock_guard lock(mu_);
    it = cache.emplace(outcome_counters_.find(outcome)->first, &c).first;
  }
  it->second->inc();
}

void ReservationMetrics::stock_available(std::string_view product_id, std::int64_t units) {
  stock_.Add({{"product", std::string(product_id)}}).Set(static_cast<double>(units));
}

void ReservationMetrics::hold_resolved(std::string_view result) {
  holds_.Add({{"result", std::string(result)}}).Increment();
}

}  // namespace fs::metrics
