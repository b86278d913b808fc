#pragma once
// Requests by route, status and error code; latency by route; open connections.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
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
class LocalCounter;
class LocalGauge;
class LocalHistogram;

class HttpMetrics {
 public:
  explicit HttpMetrics(MetricsRegistry& registry);
  // code: the api.md error code of a non-2xx answer ("" for success).
  void observe(std::string_view route, int status, std::string_view code,
               std::chrono::nanoseconds elapsed);
  void connections(int delta);
  // How late an I/O thread's periodic probe timer fired: how long the thread was busy with
  // other handlers or waiting for a core (every request on it waited as long).
  void loop_lag(std::chrono::nanoseconds late);
  ~HttpMetrics();

 private:
  struct Series {
    LocalCounter* count;
    LocalHistogram* latency;
  };
  const Series& series(std::string_view key, std::string_view route, int status,
                       std::string_view code);

  MetricsRegistry& registry_;
  const std::uint64_t id_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  std::unique_ptr<LocalGauge> connections_;
  prometheus::Histogram& loop_lag_;
  // Shared by the threads (each keeps its own cache of pointers into it): key → series.
  std::mutex mu_;
  std::map<std::string, Series, std::less<>> series_;
  std::map<std::string, std::unique_ptr<LocalCounter>, std::less<>> counters_;
  std::map<std::string, std::unique_ptr<LocalHistogram>, std::less<>> latencies_;
};

}  // namespace fs::metrics
