#pragma once
// The gateway layers (flows 8 and 10): what each layer rejected, the admission queue's length
// and waits, in-flight reservations, CAPTCHA outcomes and degraded modes (Redis errors).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

class GatewayMetrics {
 public:
  explicit GatewayMetrics(MetricsRegistry& registry);
  ~GatewayMetrics();
  // layer: ip_rate, user_rate, banned, bot, queue_full, queue_timeout, queue_abandoned,
  // concurrency.
  void rejected(std::string_view layer);
  // result: issued, solved, failed, expired, token_accepted, token_rejected.
  void captcha(std::string_view result);
  // A Redis call of the gateway failed (op: gcra, ban_check, ban_write, captcha); the request
  // was let through (fail open) or answered 503 for CAPTCHA calls.
  void backend_error(std::string_view op);
  void queue_length_delta(std::int64_t delta);
  void queue_wait(double seconds);  // time spent waiting by a request the queue released
  void in_flight_delta(std::int64_t delta);

 private:
  prometheus::Family<prometheus::Counter>& rejected_;
  prometheus::Family<prometheus::Counter>& captcha_;
  prometheus::Family<prometheus::Counter>& backend_errors_;
  std::unique_ptr<LocalGauge> queue_length_;
  prometheus::Histogram& queue_wait_;
  std::unique_ptr<LocalGauge> in_flight_;
  // The layers' rejections can come at the rate of a bot flood: per-thread cells for the known
  // layers (local_metrics.hpp), prometheus-cpp's counter for any other.
  std::vector<std::pair<std::string, std::unique_ptr<LocalCounter>>> rejected_known_;
  std::vector<std::pair<std::string, prometheus::Counter*>> captcha_known_;
};

}  // namespace fs::metrics
