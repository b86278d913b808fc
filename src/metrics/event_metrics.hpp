#pragma once
// The event log and its consumers: lag per group and partition, publishes, handled deliveries
// and dead letters (src/events).
#include <cstdint>
#include <string_view>

namespace prometheus {
class Counter;
class Gauge;
template <typename T>
class Family;
}  // namespace prometheus

namespace fs::metrics {

class MetricsRegistry;

class EventMetrics {
 public:
  explicit EventMetrics(MetricsRegistry& registry);
  // From XINFO GROUPS: entries not yet delivered to the group, and delivered but not acked.
  void lag(std::string_view topic, std::string_view group, std::string_view partition,
           std::int64_t undelivered, std::int64_t pending);
  // result: ok | error
  void published(std::string_view topic, std::string_view result, std::size_t n = 1);
  // result: acked | retried | dead_lettered | reclaimed
  void delivery(std::string_view topic, std::string_view group, std::string_view result);
  // reason: unparseable | unknown_type | poison | too_many_deliveries
  void dead_lettered(std::string_view topic, std::string_view group, std::string_view reason);

 private:
  prometheus::Family<prometheus::Gauge>& lag_;
  prometheus::Family<prometheus::Gauge>& pending_;
  prometheus::Family<prometheus::Counter>& published_;
  prometheus::Family<prometheus::Counter>& deliveries_;
  prometheus::Family<prometheus::Counter>& dead_letters_;
};

}  // namespace fs::metrics
