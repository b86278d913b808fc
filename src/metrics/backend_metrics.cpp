#include "metrics/backend_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>
#include <unordered_map>

#include "metrics/metrics_registry.hpp"

namespace fs::metrics {

BackendMetrics::BackendMetrics(MetricsRegistry& registry)
    : latency_(prometheus::BuildHistogram()
                   .Name("flashsale_backend_call_duration_seconds")
                   .Help("Latency of Redis and PostgreSQL calls by backend and operation")
                   .Register(registry.prometheus())),
      errors_(prometheus::BuildCounter()
                  .Name("flashsale_backend_errors_total")
                  .Help("Failed Redis and PostgreSQL calls by backend, operation and error")
                  .Register(registry.prometheus())),
      batch_(prometheus::BuildHistogram()
                 .Name("flashsale_reservation_insert_batch_size")
                 .Help("Reservations committed per PostgreSQL round trip (group commit)")
                 .Register(registry.prometheus())
                 .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256,
                                                                  512})) {}

void BackendMetrics::observe(std::string_view backend, std::string_view op,
                             std::chrono::nanoseconds elapsed, const Error* error) {
  thread_local std::unordered_map<std::string, prometheus::Histogram*> hist;
  thread_local const BackendMetrics* owner = nullptr;
  if (owner != this) {
    hist.clear();
    owner = this;
  }
  thread_local std::string key;  // reused: a lookup allocates nothing
  key.assign(backend).push_back('|');
  key.append(op);
  auto it = hist.find(key);
  if (it == hist.end()) {
    auto* h = &latency_.Add({{"backend", std::string(backend)}, {"op", std::string(op)}},
                            latency_buckets());
    it = hist.emplace(key, h).first;
  }
  it->second->Observe(std::chrono::duration<double>(elapsed).count());
  if (error) {
    errors_
        .Add({{"backend", std::string(backend)},
              {"op", std::string(op)},
              {"error", std::string(to_string(error->code))}})
        .Increment();
  }
}

void BackendMetrics::batch_size(std::size_t n) { batch_.Observe(static_cast<double>(n)); }

}  // namespace fs::metrics
