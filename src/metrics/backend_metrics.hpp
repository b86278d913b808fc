#pragma once
// Latency and errors of calls to Redis and PostgreSQL, by operation.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace prometheus {
class Counter;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace fs::metrics {

class MetricsRegistry;
class LocalHistogram;

class BackendMetrics {
 public:
  explicit BackendMetrics(MetricsRegistry& registry);
  ~BackendMetrics();
  // backend: "redis" | "postgres"; op: a short stable name ("reserve", "insert_batch", ...).
  void observe(std::string_view backend, std::string_view op, std::chrono::nanoseconds elapsed,
               const Error* error);
  void batch_size(std::size_t n);
  // Clicks per reserve script call (inventory::ReserveCall's batches).
  void reserve_batch_size(std::size_t n);

 private:
  LocalHistogram& latency(std::string_view key, std::string_view backend, std::string_view op);

  MetricsRegistry& registry_;
  const std::uint64_t id_;
  prometheus::Family<prometheus::Histogram>& latency_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<LocalHistogram>, std::less<>> latencies_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Histogram& batch_;
  prometheus::Histogram& reserve_batch_;
};

}  // namespace fs::metrics
