// Per-thread metric cells (metrics/local_metrics.hpp): what many threads record is exactly what
// the exposition shows, every scrape adds only what is new, histograms put an observation in the
// bucket prometheus-cpp would, and a destroyed series leaves the registry's fold list.
#include "metrics/local_metrics.hpp"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <thread>
#include <vector>

#include "metrics/metrics_registry.hpp"

namespace fs::metrics {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(LocalMetrics, ThreadsCountExactlyAndScrapesAddOnlyWhatIsNew) {
  MetricsRegistry registry;
  auto& family = prometheus::BuildCounter().Name("t_total").Help("h").Register(registry.prometheus());
  auto& gauge_family = prometheus::BuildGauge().Name("t_gauge").Help("h").Register(registry.prometheus());
  LocalCounter counter(registry, family.Add({{"k", "v"}}));
  LocalGauge gauge(registry, gauge_family.Add({}));
  std::vector<std::thread> threads;
  for (int t = 0; t < 24; ++t)  // more threads than slots: shared cells stay exact
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        counter.inc();
        gauge.add(+1);
        if (i % 2) gauge.add(-1);
      }
    });
  for (auto& t : threads) t.join();
  auto text = registry.serialize();
  EXPECT_TRUE(has_line(text, "t_total{k=\"v\"} 240000")) << text;
  EXPECT_TRUE(has_line(text, "t_gauge 120000")) << text;
  text = registry.serialize();  // nothing new: nothing added
  EXPECT_TRUE(has_line(text, "t_total{k=\"v\"} 240000")) << text;
  counter.inc(5);
  gauge.add(-120000);
  text = registry.serialize();
  EXPECT_TRUE(has_line(text, "t_total{k=\"v\"} 240005")) << text;
  EXPECT_TRUE(has_line(text, "t_gauge 0")) << text;
}

TEST(LocalMetrics, HistogramBucketsMatchPrometheusCpp) {
  MetricsRegistry registry;
  const std::vector<double> bounds{0.001, 0.01, 0.1};
  auto& family = prometheus::BuildHistogram().Name("t_seconds").Help("h").Register(registry.prometheus());
  LocalHistogram local(registry, family.Add({{"via", "local"}}, bounds), bounds);
  auto& direct = family.Add({{"via", "direct"}}, bounds);
  using std::chrono::microseconds;
  for (auto d : {microseconds{0}, microseconds{1000}, microseconds{1001}, microseconds{9999},
                 microseconds{100000}, microseconds{250000}, microseconds{5}}) {
    local.observe(d);
    direct.Observe(std::chrono::duration<double>(d).count());
  }
  const auto text = registry.serialize();
  for (const char* le : {"0.001", "0.01", "0.1", "+Inf"}) {
    const auto count_of = [&](const std::string& via) {
      const std::string key = "t_seconds_bucket{via=\"" + via + "\",le=\"" + le + "\"} ";
      const auto at = text.find(key);
      EXPECT_NE(at, std::string::npos) << key << "\n" << text;
      return at == std::string::npos ? std::string("?")
                                     : text.substr(at + key.size(), text.find('\n', at) - at - key.size());
    };
    EXPECT_EQ(count_of("local"), count_of("direct")) << "le=" << le;
  }
  EXPECT_TRUE(has_line(text, "t_seconds_count{via=\"local\"} 7")) << text;
  EXPECT_TRUE(has_line(text, "t_seconds_sum{via=\"local\"} 0.362005")) << text;
}

TEST(LocalMetrics, ADestroyedSeriesIsNoLongerFolded) {
  MetricsRegistry registry;
  auto& family = prometheus::BuildCounter().Name("gone_total").Help("h").Register(registry.prometheus());
  auto& series = family.Add({});
  {
    LocalCounter counter(registry, series);
    counter.inc(3);
    EXPECT_TRUE(has_line(registry.serialize(), "gone_total 3"));
    counter.inc(4);
  }  // not folded yet: lost with the series' owner (owners live as long as the registry)
  EXPECT_TRUE(has_line(registry.serialize(), "gone_total 3"));  // and no dangling fold
}

}  // namespace
}  // namespace fs::metrics
