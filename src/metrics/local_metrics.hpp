#pragma once
// Metric updates on the request path that write only the calling thread's cache lines.
//
// prometheus-cpp's Counter and Gauge add with a compare-and-swap on one shared double, and its
// Histogram takes a mutex per observation: with every I/O thread counting every request into
// the same few series, those lines travel between cores on every request. Here each series
// keeps one cell per thread slot (cache-line sized, so two threads never write the same line);
// MetricsRegistry::serialize() folds the cells into the prometheus-cpp series just before it
// collects them, so names, labels and the exposition stay prometheus-cpp's.
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace fs::metrics {

class MetricsRegistry;

namespace detail {
// Threads are spread over this many cells per series (more threads than slots share cells,
// which stays correct: cells are atomics).
inline constexpr std::size_t kSlots = 16;
std::size_t this_thread_slot() noexcept;
// A process-unique id for an object whose series threads cache by owner (unlike an address, it
// is never reused by a later object).
std::uint64_t new_owner_id() noexcept;
}  // namespace detail

// Something MetricsRegistry folds before each collection.
class Foldable {
 public:
  explicit Foldable(MetricsRegistry& registry);
  virtual ~Foldable();
  Foldable(const Foldable&) = delete;
  Foldable& operator=(const Foldable&) = delete;
  // Moves what was recorded since the last fold into the prometheus-cpp series. Called with
  // the registry's fold lock held (never concurrently with itself).
  virtual void fold() = 0;

 private:
  MetricsRegistry& registry_;
};

class LocalCounter final : public Foldable {
 public:
  LocalCounter(MetricsRegistry& registry, prometheus::Counter& target)
      : Foldable(registry), target_(target) {}
  void inc(std::uint64_t n = 1) noexcept {
    cells_[detail::this_thread_slot()].n.fetch_add(n, std::memory_order_relaxed);
  }
  void fold() override;

 private:
  struct alignas(64) Cell {
    std::atomic<std::uint64_t> n{0};
  };
  prometheus::Counter& target_;
  std::array<Cell, detail::kSlots> cells_{};
  std::uint64_t folded_ = 0;
};

// A gauge moved by deltas (in flight, open connections): its value is the sum of every delta.
class LocalGauge final : public Foldable {
 public:
  LocalGauge(MetricsRegistry& registry, prometheus::Gauge& target)
      : Foldable(registry), target_(target) {}
  void add(std::int64_t delta) noexcept {
    cells_[detail::this_thread_slot()].n.fetch_add(delta, std::memory_order_relaxed);
  }
  void fold() override;

 private:
  struct alignas(64) Cell {
    std::atomic<std::int64_t> n{0};
  };
  prometheus::Gauge& target_;
  std::array<Cell, detail::kSlots> cells_{};
};

// A histogram of durations; `bounds_seconds` must be the target's bucket boundaries (an
// observation goes to the first bucket whose bound is >= it, as prometheus-cpp does).
class LocalHistogram final : public Foldable {
 public:
  static constexpr std::size_t kMaxBounds = 23;
  LocalHistogram(MetricsRegistry& registry, prometheus::Histogram& target,
                 const std::vector<double>& bounds_seconds);
  void observe(std::chrono::nanoseconds elapsed) noexcept;
  void fold() override;

 private:
  struct alignas(64) Cell {
    std::array<std::atomic<std::uint64_t>, kMaxBounds + 1> counts{};  // the last one is +Inf
    std::atomic<std::uint64_t> sum_ns{0};
  };
  prometheus::Histogram& target_;
  std::vector<std::int64_t> bounds_ns_;
  std::unique_ptr<Cell[]> cells_;
  std::vector<std::uint64_t> folded_counts_;
  std::uint64_t folded_sum_ns_ = 0;
};

}  // namespace fs::metrics
