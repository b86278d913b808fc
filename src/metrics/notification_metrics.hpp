#pragma once
// Notifications (src/notifications): pushes to the per-user feeds, e-mails, SSE connections.
#include <string_view>

namespace prometheus {
class Counter;
class Gauge;
template <typename T>
class Family;
}  // namespace prometheus

namespace fs::metrics {

class MetricsRegistry;

class NotificationMetrics {
 public:
  explicit NotificationMetrics(MetricsRegistry& registry);
  // channel: push | email; result: sent | duplicate | error
  void sent(std::string_view channel, std::string_view result);
  void sse_clients(int delta);

 private:
  prometheus::Family<prometheus::Counter>& sent_;
  prometheus::Gauge& sse_clients_;
};

}  // namespace fs::metrics
