#pragma once
// Requests by route, status and error code; latency by route; open connections.
#include <chrono>
#include <string_view>

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace fs::metrics {

class MetricsRegistry;

class HttpMetrics {
 public:
  explicit HttpMetrics(MetricsRegistry& registry);
  // code: the api.md error code of a non-2xx answer ("" for success).
  void observe(std::string_view route, int status, std::string_view code,
               std::chrono::nanoseconds elapsed);
  void connections(int delta);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Gauge& connections_;
};

}  // namespace fs::metrics
