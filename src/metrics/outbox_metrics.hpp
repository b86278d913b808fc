#pragma once
// The transactional outbox and its relay (src/events/outbox_relay.*).
#include <chrono>
#include <cstdint>
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

class OutboxMetrics {
 public:
  explicit OutboxMetrics(MetricsRegistry& registry);
  void backlog(std::int64_t rows);  // rows waiting in the outbox table
  // One relay round (select, publish, delete, commit); error: empty when it succeeded.
  void round(std::size_t rows, std::chrono::nanoseconds publish_elapsed, std::string_view error);
  // Commit-to-publish delay of one row.
  void delay(double seconds);
  // One VACUUM of the outbox by a relay that caught up; error: empty when it succeeded.
  void vacuum(std::chrono::nanoseconds elapsed, std::string_view error);

 private:
  prometheus::Gauge& backlog_;
  prometheus::Histogram& publish_latency_;
  prometheus::Histogram& delay_;
  prometheus::Counter& published_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Histogram& vacuum_duration_;
};

}  // namespace fs::metrics
