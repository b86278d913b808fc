// What the request path's shared state costs per request when the I/O threads update it at once:
// prometheus-cpp's Counter (a CAS on a shared double) and Histogram (a mutex) against the
// per-thread cells of metrics/local_metrics.hpp; a catalog lookup under a reader-writer lock
// with a shared_ptr copy (ProductCatalog before fd5d243, replicated here) against
// ProductCatalog's per-thread copies. Run with 1 and 2 threads (`->Threads`): on one thread
// both sides cost their instructions; on two, the shared versions also pay for cache lines that
// move between the cores. Times are per operation of one thread (real time).
//   build/release/bench/shared_state_bench --benchmark_min_time=0.3
#include <benchmark/benchmark.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "catalog/product_catalog.hpp"
#include "common/clock.hpp"
#include "metrics/local_metrics.hpp"
#include "metrics/metrics_registry.hpp"

namespace {

using fs::metrics::MetricsRegistry;

MetricsRegistry& registry() {
  static MetricsRegistry r;
  return r;
}

prometheus::Counter& shared_counter() {
  static auto& c = prometheus::BuildCounter().Name("b_total").Help("h").Register(
      registry().prometheus()).Add({});
  return c;
}

const std::vector<double>& bounds() {
  return fs::metrics::latency_buckets();
}

prometheus::Histogram& shared_histogram() {
  static auto& h = prometheus::BuildHistogram().Name("b_seconds").Help("h").Register(
      registry().prometheus()).Add({}, bounds());
  return h;
}

void BM_PrometheusCounterIncrement(benchmark::State& state) {
  auto& c = shared_counter();
  for (auto _ : state) c.Increment();
}
BENCHMARK(BM_PrometheusCounterIncrement)->Threads(1)->Threads(2)->UseRealTime();

void BM_LocalCounterInc(benchmark::State& state) {
  static fs::metrics::LocalCounter local(
      registry(), prometheus::BuildCounter().Name("l_total").Help("h").Register(
                      registry().prometheus()).Add({}));
  for (auto _ : state) local.inc();
}
BENCHMARK(BM_LocalCounterInc)->Threads(1)->Threads(2)->UseRealTime();

void BM_PrometheusHistogramObserve(benchmark::State& state) {
  auto& h = shared_histogram();
  double v = 0.0003;
  for (auto _ : state) {
    h.Observe(v);
    v = v < 0.01 ? v * 1.7 : 0.0003;
  }
}
BENCHMARK(BM_PrometheusHistogramObserve)->Threads(1)->Threads(2)->UseRealTime();

void BM_LocalHistogramObserve(benchmark::State& state) {
  static fs::metrics::LocalHistogram local(
      registry(),
      prometheus::BuildHistogram().Name("l_seconds").Help("h").Register(
          registry().prometheus()).Add({}, bounds()),
      bounds());
  std::int64_t ns = 300'000;
  for (auto _ : state) {
    local.observe(std::chrono::nanoseconds{ns});
    ns = ns < 10'000'000 ? ns * 17 / 10 : 300'000;
  }
}
BENCHMARK(BM_LocalHistogramObserve)->Threads(1)->Threads(2)->UseRealTime();

fs::Product phone() {
  fs::Product p;
  p.product_id = "phone-2026";
  p.name = "Phone";
  p.price_cents = 79900;
  p.currency = "usd";
  p.stock_total = 100;
  return p;
}

// The catalog as it was: a reader-writer lock and one shared Product per id.
class LockedCatalog {
 public:
  LockedCatalog() { map_.emplace("phone-2026", std::make_shared<const fs::Product>(phone())); }
  std::shared_ptr<const fs::Product> find(const std::string& id) const {
    std::shared_lock lock(mu_);
    auto it = map_.find(id);
    return it == map_.end() ? nullptr : it->second;
  }

 private:
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const fs::Product>> map_;
};

void BM_CatalogFindLocked(benchmark::State& state) {
  static LockedCatalog catalog;
  const std::string id = "phone-2026";
  for (auto _ : state) {
    auto p = catalog.find(id);  // held while the request runs, released at its end
    benchmark::DoNotOptimize(p.get());
  }
}
BENCHMARK(BM_CatalogFindLocked)->Threads(1)->Threads(2)->UseRealTime();

void BM_CatalogFindPerThreadCopy(benchmark::State& state) {
  static fs::SystemClock clock;
  static fs::catalog::ProductCatalog catalog(clock);
  static const bool once = (catalog.put(phone()), true);
  (void)once;
  const std::string id = "phone-2026";
  for (auto _ : state) {
    std::shared_ptr<const fs::Product> p;
    catalog.find(id, &p);
    benchmark::DoNotOptimize(p.get());
  }
}
BENCHMARK(BM_CatalogFindPerThreadCopy)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
