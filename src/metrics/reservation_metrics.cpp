#include "metrics/reservation_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <string>
#include <unordered_map>

#include "metrics/metrics_registry.hpp"

namespace fs::metrics {

ReservationMetrics::ReservationMetrics(MetricsRegistry& registry)
    : outcomes_(prometheus::BuildCounter()
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
    outcomes_.Add({{"outcome", o}});
}

void ReservationMetrics::outcome(std::string_view outcome) {
  thread_local std::unordered_map<std::string, prometheus::Counter*> cache;
  thread_local const ReservationMetrics* owner = nullptr;
  if (owner != this) {
    cache.clear();
    owner = this;
  }
  auto it = cache.find(std::string(outcome));
  if (it == cache.end())
    it = cache.emplace(std::string(outcome), &outcomes_.Add({{"outcome", std::string(outcome)}}))
             .first;
  it->second->Increment();
}

void ReservationMetrics::stock_available(std::string_view product_id, std::int64_t units) {
  stock_.Add({{"product", std::string(product_id)}}).Set(static_cast<double>(units));
}

void ReservationMetrics::hold_resolved(std::string_view result) {
  holds_.Add({{"result", std::string(result)}}).Increment();
}

}  // namespace fs::metrics
