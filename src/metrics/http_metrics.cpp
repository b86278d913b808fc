#include "metrics/http_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <charconv>
#include <string>
#include <unordered_map>

#include "metrics/metrics_registry.hpp"

namespace fs::metrics {

HttpMetrics::HttpMetrics(MetricsRegistry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("flashsale_http_requests_total")
                    .Help("HTTP requests by route, status and api.md error code")
                    .Register(registry.prometheus())),
      latency_(prometheus::BuildHistogram()
                   .Name("flashsale_http_request_duration_seconds")
                   .Help("Time from a complete request to its response being written, by route")
                   .Register(registry.prometheus())),
      connections_(prometheus::BuildGauge()
                       .Name("flashsale_http_connections")
                       .Help("Open HTTP connections")
                       .Register(registry.prometheus())
                       .Add({})) {}

void HttpMetrics::observe(std::string_view route, int status, std::string_view code,
                          std::chrono::nanoseconds elapsed) {
  // Family::Add takes a lock and hashes labels; cache the series per thread.
  struct Series {
    prometheus::Counter* count;
    prometheus::Histogram* latency;
  };
  thread_local std::unordered_map<std::string, Series> cache;
  thread_local const HttpMetrics* owner = nullptr;
  if (owner != this) {
    cache.clear();
    owner = this;
  }
  thread_local std::string key;  // reused: building the key allocates nothing
  key.clear();
  key.append(route).push_back('|');
  char digits[12];
  auto [end, errc] = std::to_chars(digits, digits + sizeof digits, status);
  (void)errc;
  key.append(digits, end).push_back('|');
  key.append(code);
  auto it = cache.find(key);
  if (it == cache.end()) {
    Series s{&requests_.Add({{"route", std::string(route)},
                             {"status", std::to_string(status)},
                             {"code", std::string(code)}}),
             &latency_.Add({{"route", std::string(route)}}, latency_buckets())};
    it = cache.emplace(key, s).first;
  }
  it->second.count->Increment();
  it->second.latency->Observe(std::chrono::duration<double>(elapsed).count());
}

void HttpMetrics::connections(int delta) { connections_.Increment(delta); }

}  // namespace fs::metrics
