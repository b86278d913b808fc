#include "metrics/local_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "metrics/metrics_registry.hpp"

namespace fs::metrics {

namespace detail {
std::size_t this_thread_slot() noexcept {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t slot = next.fetch_add(1, std::memory_order_relaxed) % kSlots;
  return slot;
}
std::uint64_t new_owner_id() noexcept {
  static std::atomic<std::uint64_t> last{0};
  return last.fetch_add(1, std::memory_order_relaxed) + 1;
}
}  // namespace detail

Foldable::Foldable(MetricsRegistry& registry) : registry_(registry) { registry_.add_fold(this); }
Foldable::~Foldable() { registry_.remove_fold(this); }

void LocalCounter::fold() {
  std::uint64_t total = 0;
  for (const auto& c : cells_) total += c.n.load(std::memory_order_relaxed);
  if (total > folded_) target_.Increment(static_cast<double>(total - folded_));
  folded_ = total;
}

void LocalGauge::fold() {
  std::int64_t total = 0;
  for (const auto& c : cells_) total += c.n.load(std::memory_order_relaxed);
  target_.Set(static_cast<double>(total));
}

LocalHistogram::LocalHistogram(MetricsRegistry& registry, prometheus::Histogram& target,
                               const std::vector<double>& bounds_seconds)
    : Foldable(registry),
      target_(target),
      cells_(new Cell[detail::kSlots]),
      folded_counts_(bounds_seconds.size() + 1, 0) {
  if (bounds_seconds.size() > kMaxBounds) throw std::invalid_argument("too many buckets");
  for (double b : bounds_seconds) bounds_ns_.push_back(std::llround(b * 1e9));
}

void LocalHistogram::observe(std::chrono::nanoseconds elapsed) noexcept {
  const std::int64_t ns = std::max<std::int64_t>(0, elapsed.count());
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(bounds_ns_.begin(), bounds_ns_.end(), ns) - bounds_ns_.begin());
  Cell& c = cells_[detail::this_thread_slot()];
  c.counts[bucket].fetch_add(1, std::memory_order_relaxed);
  c.sum_ns.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
}

void LocalHistogram::fold() {
  const std::size_t buckets = bounds_ns_.size() + 1;
  std::vector<double> increments(buckets, 0.0);
  bool any = false;
  for (std::size_t b = 0; b < buckets; ++b) {
    std::uint64_t total = 0;
    for (std::size_t s = 0; s < detail::kSlots; ++s)
      total += cells_[s].counts[b].load(std::memory_order_relaxed);
    if (total > folded_counts_[b]) {
      increments[b] = static_cast<double>(total - folded_counts_[b]);
      any = true;
    }
    folded_counts_[b] = total;
  }
  std::uint64_t sum = 0;
  for (std::size_t s = 0; s < detail::kSlots; ++s)
    sum += cells_[s].sum_ns.load(std::memory_order_relaxed);
  const double sum_delta = static_cast<double>(sum - folded_sum_ns_) / 1e9;
  folded_sum_ns_ = sum;
  if (any) target_.ObserveMultiple(increments, sum_delta);
}

}  // namespace fs::metrics
