#include "metrics/http_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <charconv>
#include <string>
#include <unordered_map>

#include "metrics/local_metrics.hpp"
#include "metrics/metrics_registry.hpp"

namespace fs::metrics {

HttpMetrics::HttpMetrics(MetricsRegistry& registry)
    : registry_(registry),
      id_(detail::new_owner_id()),
      requests_(prometheus::BuildCounter()
                    .Name("flashsale_http_requests_total")
                    .Help("HTTP requests by route, status and api.md error code")
                    .Register(registry.prometheus())),
      latency_(prometheus::BuildHistogram()
                   .Name("flashsale_http_request_duration_seconds")
                   .Help("Time from a complete request to its response being written, by route")
                   .Register(registry.prometheus())),
      connections_(std::make_unique<LocalGauge>(registry, prometheus::BuildGauge()
                                                              .Name("flashsale_http_connections")
                                                              .Help("Open HTTP connections")
                                                              .Register(registry.prometheus())
                                                              .Add({}))),
      loop_lag_(prometheus::BuildHistogram()
                    .Name("flashsale_io_loop_lag_seconds")
                    .Help("How late a periodic timer fires on an I/O thread (busy or waiting for "
                          "a core)")
                    .Register(registry.prometheus())
                    .Add({}, latency_buckets())) {}

void HttpMetrics::loop_lag(std::chrono::nanoseconds late) {
  loop_lag_.Observe(std::chrono::duration<double>(late).count());
}

HttpMetrics::~HttpMetrics() = default;

const HttpMetrics::Series& HttpMetrics::series(std::string_view key, std::string_view route,
                                               int status, std::string_view code) {
  std::lock_guard lock(mu_);
  auto it = series_.find(key);
  if (it != series_.end()) return it->second;
  auto& counter = counters_[std::string(key)];
  counter =
      std::make_unique<LocalCounter>(registry_, requests_.Add({{"route", std::string(route)},
                                                               {"status", std::to_string(status)},
                                                               {"code", std::string(code)}}));
  auto& latency = latencies_[std::string(route)];  // one latency series per route
  if (!latency)
    latency = std::make_unique<LocalHistogram>(
        registry_, latency_.Add({{"route", std::string(route)}}, latency_buckets()),
        latency_buckets());
  return series_.emplace(std::string(key), Series{counter.get(), latency.get()}).first->second;
}

void HttpMetrics::observe(std::string_view route, int status, std::string_view code,
                          std::chrono::nanoseconds elapsed) {
  // The series are shared (local_metrics.hpp: per-thread cells); the lookup is cached per thread.
  thread_local std::unordered_map<std::string, Series> cache;
  thread_local std::uint64_t owner = 0;
  // The series of this thread's previous request: in a burst, request after request has the
  // same route, status and code (a sale's 410s), and they skip the key and its hash.
  thread_local struct {
    std::string route;
    int status = 0;
    std::string code;
    const Series* series = nullptr;
  } last;
  if (owner != id_) {
    cache.clear();
    last.series = nullptr;
    owner = id_;
  }
  if (last.series != nullptr && last.status == status && last.route == route && last.code == code) {
    last.series->count->inc();
    last.series->latency->observe(elapsed);
    return;
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
  if (it == cache.end()) it = cache.emplace(key, series(key, route, status, code)).first;
  it->second.count->inc();
  it->second.latency->observe(elapsed);
  last.route.assign(route);
  last.status = status;
  last.code.assign(code);
  last.series = &it->second;  // unordered_map nodes stay put until the cache is cleared
}

void HttpMetrics::connections(int delta) { connections_->add(delta); }

}  // namespace fs::metrics
