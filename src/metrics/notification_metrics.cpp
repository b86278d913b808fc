#include "metrics/notification_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <string>

#include "metrics/metrics_registry.hpp"

namespace fs::metrics {

NotificationMetrics::NotificationMetrics(MetricsRegistry& registry)
    : sent_(prometheus::BuildCounter()
                .Name("flashsale_notifications_total")
                .Help("Notifications by channel (push, email) and result")
                .Register(registry.prometheus())),
      sse_clients_(prometheus::BuildGauge()
                       .Name("flashsale_sse_clients")
                       .Help("Open GET /v1/events streams")
                       .Register(registry.prometheus())
                       .Add({})) {}

void NotificationMetrics::sent(std::string_view channel, std::string_view result) {
  sent_.Add({{"channel", std::string(channel)}, {"result", std::string(result)}}).Increment();
}

void NotificationMetrics::sse_clients(int delta) { sse_clients_.Increment(delta); }

}  // namespace fs::metrics
