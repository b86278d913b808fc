#include "metrics/event_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <string>

#include "metrics/metrics_registry.hpp"

namespace fs::metrics {

EventMetrics::EventMetrics(MetricsRegistry& registry)
    : lag_(prometheus::BuildGauge()
               .Name("flashsale_event_consumer_lag")
               .Help("Entries of a partition not yet delivered to a consumer group (XINFO GROUPS)")
               .Register(registry.prometheus())),
      pending_(prometheus::BuildGauge()
                   .Name("flashsale_event_consumer_pending")
                   .Help("Entries delivered to a consumer group but not acknowledged yet")
                   .Register(registry.prometheus())),
      published_(prometheus::BuildCounter()
                     .Name("flashsale_events_published_total")
                     .Help("Events appended to the event log by topic and result")
                     .Register(registry.prometheus())),
      deliveries_(prometheus::BuildCounter()
                      .Name("flashsale_event_deliveries_total")
                      .Help("Deliveries handled by consumer loops, by topic, group and result")
                      .Register(registry.prometheus())),
      dead_letters_(prometheus::BuildCounter()
                        .Name("flashsale_events_dead_lettered_total")
                        .Help("Events moved to <topic>.dlq by topic, group and reason")
                        .Register(registry.prometheus())) {}

void EventMetrics::lag(std::string_view topic, std::string_view group, std::string_view partition,
                       std::int64_t undelivered, std::int64_t pending) {
  const prometheus::Labels labels{{"topic", std::string(topic)},
                                  {"group", std::string(group)},
                                  {"partition", std::string(partition)}};
  lag_.Add(labels).Set(static_cast<double>(undelivered));
  pending_.Add(labels).Set(static_cast<double>(pending));
}

void EventMetrics::published(std::string_view topic, std::string_view result, std::size_t n) {
  published_.Add({{"topic", std::string(topic)}, {"result", std::string(result)}})
      .Increment(static_cast<double>(n));
}

void EventMetrics::delivery(std::string_view topic, std::string_view group,
                            std::string_view result) {
  deliveries_
      .Add({{"topic", std::string(topic)},
            {"group", std::string(group)},
            {"result", std::string(result)}})
      .Increment();
}

void EventMetrics::dead_lettered(std::string_view topic, std::string_view group,
                                 std::string_view reason) {
  dead_letters_
      .Add({{"topic", std::string(topic)},
            {"group", std::string(group)},
            {"reason", std::string(reason)}})
      .Increment();
}

}  // namespace fs::metrics
