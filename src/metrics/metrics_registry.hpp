#pragma once
// The process-wide Prometheus registry (prometheus-cpp) and its text exposition for /metrics.
// Each component declares its metrics once in its own *_metrics.hpp and takes them by reference.
#include <memory>
#include <string>
#include <vector>

namespace prometheus {
class Registry;
}

namespace fs::metrics {

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  prometheus::Registry& prometheus() { return *registry_; }
  std::string serialize() const;  // Prometheus text format 0.0.4

 private:
  std::shared_ptr<prometheus::Registry> registry_;
};

// Buckets in seconds from 50 µs to 10 s, for request and backend latencies.
const std::vector<double>& latency_buckets();

}  // namespace fs::metrics
