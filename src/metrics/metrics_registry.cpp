#include "metrics/metrics_registry.hpp"

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>

#include "metrics/local_metrics.hpp"

namespace fs::metrics {

MetricsRegistry::MetricsRegistry() : registry_(std::make_shared<prometheus::Registry>()) {}
MetricsRegistry::~MetricsRegistry() = default;

std::string MetricsRegistry::serialize() const {
  {
    std::lock_guard lock(fold_mu_);
    for (auto* f : folds_) f->fold();
  }
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry_->Collect());
}

void MetricsRegistry::add_fold(Foldable* f) {
  std::lock_guard lock(fold_mu_);
  folds_.push_back(f);
}

void MetricsRegistry::remove_fold(Foldable* f) {
  std::lock_guard lock(fold_mu_);
  std::erase(folds_, f);
}

const std::vector<double>& latency_buckets() {
  // Finer between 5 and 25 ms, where the durable 201's p99 target (10 ms) lies.
  static const std::vector<double> b{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                     0.0075,  0.01,   0.015,   0.02,   0.025, 0.05,   0.1,
                                     0.25,    0.5,    1,       2.5,    5,     10};
  return b;
}

}  // namespace fs::metrics
