#pragma once
// The process-wide Prometheus registry (prometheus-cpp) and its text exposition for /metrics.
// Each component declares its metrics once in its own *_metrics.hpp and takes them by reference.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace prometheus {
class Registry;
}

namespace fs::metrics {

class Foldable;

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  prometheus::Registry& prometheus() { return *registry_; }
  // Prometheus text format 0.0.4; first folds the per-thread cells of every Foldable
  // (local_metrics.hpp) into their series.
  std::string serialize() const;

  // Foldable registers itself here for its lifetime.
  void add_fold(Foldable* f);
  void remove_fold(Foldable* f);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  mutable std::mutex fold_mu_;
  std::vector<Foldable*> folds_;
};

// Buckets in seconds from 50 µs to 10 s, for request and backend latencies.
const std::vector<double>& latency_buckets();

}  // namespace fs::metrics
