#include "metrics/outbox_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

#include "metrics/metrics_registry.hpp"

namespace fs::metrics {

OutboxMetrics::OutboxMetrics(MetricsRegistry& registry)
    : backlog_(prometheus::BuildGauge()
                   .Name("flashsale_outbox_backlog_rows")
                   .Help("Rows in the outbox table not yet published by a relay")
                   .Register(registry.prometheus())
                   .Add({})),
      publish_latency_(prometheus::BuildHistogram()
                           .Name("flashsale_outbox_publish_duration_seconds")
                           .Help("Time to publish one relay batch to the event log")
                           .Register(registry.prometheus())
                           .Add({}, latency_buckets())),
      delay_(prometheus::BuildHistogram()
                 .Name("flashsale_outbox_delay_seconds")
                 .Help("From an outbox row's commit to its publication")
                 .Register(registry.prometheus())
                 .Add({}, latency_buckets())),
      published_(prometheus::BuildCounter()
                     .Name("flashsale_outbox_published_total")
                     .Help("Outbox rows published and deleted by relays")
                     .Register(registry.prometheus())
                     .Add({})),
      errors_(prometheus::BuildCounter()
                  .Name("flashsale_outbox_relay_errors_total")
                  .Help("Failed relay rounds by error (the rows stay and are retried)")
                  .Register(registry.prometheus())),
      vacuum_duration_(prometheus::BuildHistogram()
                           .Name("flashsale_outbox_vacuum_duration_seconds")
                           .Help("VACUUM of the outbox by a relay once caught up after a backlog")
                           .Register(registry.prometheus())
                           .Add({}, latency_buckets())) {}

void OutboxMetrics::backlog(std::int64_t rows) { backlog_.Set(static_cast<double>(rows)); }

void OutboxMetrics::round(std::size_t rows, std::chrono::nanoseconds publish_elapsed,
                          std::string_view error) {
  if (!error.empty()) {
    errors_.Add({{"error", std::string(error)}}).Increment();
    return;
  }
  if (rows == 0) return;
  publish_latency_.Observe(std::chrono::duration<double>(publish_elapsed).count());
  published_.Increment(static_cast<double>(rows));
}

void OutboxMetrics::delay(double seconds) { delay_.Observe(seconds); }

void OutboxMetrics::vacuum(std::chrono::nanoseconds elapsed, std::string_view error) {
  if (!error.empty()) {
    errors_.Add({{"error", "vacuum_" + std::string(error)}}).Increment();
    return;
  }
  vacuum_duration_.Observe(std::chrono::duration<double>(elapsed).count());
}

}  // namespace fs::metrics
