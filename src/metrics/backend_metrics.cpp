#include "metrics/backend_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>
#include <unordered_map>

#include "metrics/local_metrics.hpp"
#include "metrics/metrics_registry.hpp"

namespace fs::metrics {

BackendMetrics::BackendMetrics(MetricsRegistry& registry)
    : registry_(registry),
      id_(detail::new_owner_id()),
      latency_(prometheus::BuildHistogram()
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
                                                                  512})),
      reserve_batch_(
          prometheus::BuildHistogram()
              .Name("flashsale_redis_reserve_batch_size")
              .Help("Clicks per reserve script call to Redis (batched per sale)")
              .Register(registry.prometheus())
              .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64})) {}

BackendMetrics::~BackendMetrics() = default;

LocalHistogram& BackendMetrics::latency(std::string_view key, std::string_view backend,
                                        std::string_view op) {
  std::lock_guard lock(mu_);
  auto& h = latencies_[std::string(key)];
  if (!h)
    h = std::make_unique<LocalHistogram>(
        registry_,
        latency_.Add({{"backend", std::string(backend)}, {"op", std::string(op)}},
                     latency_buckets()),
        latency_buckets());
  return *h;
}

void BackendMetrics::observe(std::string_view backend, std::string_view op,
                             std::chrono::nanoseconds elapsed, const Error* error) {
  // Per-thread cells (local_metrics.hpp); the lookup is cached per thread.
  thread_local std::unordered_map<std::string, LocalHistogram*> hist;
  thread_local std::uint64_t owner = 0;
  if (owner != id_) {
    hist.clear();
    owner = id_;
  }
  thread_local std::string key;  // reused: a lookup allocates nothing
  key.assign(backend).push_back('|');
  key.append(op);
  auto it = hist.find(key);
  if (it == hist.end()) it = hist.emplace(key, &latency(key, backend, op)).first;
  it->second->observe(elapsed);
  if (error) {
    errors_
        .Add({{"backend", std::string(backend)},
              {"op", std::string(op)},
              {"error", std::string(to_string(error->code))}})
        .Increment();
  }
}

void BackendMetrics::batch_size(std::size_t n) { batch_.Observe(static_cast<double>(n)); }
void BackendMetrics::reserve_batch_size(std::size_t n) {
  reserve_batch_.Observe(static_cast<double>(n));
}

}  // namespace fs::metrics
