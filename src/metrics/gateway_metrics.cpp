#include "metrics/gateway_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>
#include <utility>
#include <vector>

#include "metrics/local_metrics.hpp"
#include "metrics/metrics_registry.hpp"

namespace fs::metrics {
namespace {

// The known label values are resolved once (Family::Add locks and hashes); others fall back.
prometheus::Counter& labelled(
    prometheus::Family<prometheus::Counter>& family,
    const std::vector<std::pair<std::string, prometheus::Counter*>>& known, const char* label,
    std::string_view value) {
  for (const auto& [name, counter] : known)
    if (name == value) return *counter;
  return family.Add({{label, std::string(value)}});
}

const std::vector<double>& wait_buckets() {
  static const std::vector<double> b{0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30};
  return b;
}

}  // namespace

GatewayMetrics::GatewayMetrics(MetricsRegistry& registry)
    : rejected_(prometheus::BuildCounter()
                    .Name("flashsale_gateway_rejected_total")
                    .Help("Requests refused by a gateway layer, by layer")
                    .Register(registry.prometheus())),
      captcha_(prometheus::BuildCounter()
                   .Name("flashsale_gateway_captcha_total")
                   .Help("CAPTCHA challenges and passes, by result")
                   .Register(registry.prometheus())),
      backend_errors_(prometheus::BuildCounter()
                          .Name("flashsale_gateway_backend_errors_total")
                          .Help("Redis calls of the gateway that failed, by operation")
                          .Register(registry.prometheus())),
      queue_length_(std::make_unique<LocalGauge>(
          registry, prometheus::BuildGauge()
                        .Name("flashsale_admission_queue_length")
                        .Help("Requests waiting in the admission queue")
                        .Register(registry.prometheus())
                        .Add({}))),
      queue_wait_(prometheus::BuildHistogram()
                      .Name("flashsale_admission_queue_wait_seconds")
                      .Help("Time a released request waited in the admission queue")
                      .Register(registry.prometheus())
                      .Add({}, wait_buckets())),
      in_flight_(std::make_unique<LocalGauge>(
          registry, prometheus::BuildGauge()
                        .Name("flashsale_reservations_in_flight")
                        .Help("Reservations past the gateway and not answered yet")
                        .Register(registry.prometheus())
                        .Add({}))) {
  for (const char* l : {"ip_rate", "user_rate", "banned", "bot", "queue_full", "queue_timeout",
                        "queue_abandoned", "concurrency"})
    rejected_known_.emplace_back(
        l, std::make_unique<LocalCounter>(registry, rejected_.Add({{"layer", l}})));
  for (const char* r :
       {"issued", "solved", "failed", "expired", "token_accepted", "token_rejected"})
    captcha_known_.emplace_back(r, &captcha_.Add({{"result", r}}));
}

GatewayMetrics::~GatewayMetrics() = default;

void GatewayMetrics::rejected(std::string_view layer) {
  for (const auto& [name, counter] : rejected_known_)
    if (name == layer) return counter->inc();
  rejected_.Add({{"layer", std::string(layer)}}).Increment();
}
void GatewayMetrics::captcha(std::string_view result) {
  labelled(captcha_, captcha_known_, "result", result).Increment();
}
void GatewayMetrics::backend_error(std::string_view op) {
  labelled(backend_errors_, {}, "op", op).Increment();
}
void GatewayMetrics::queue_length_delta(std::int64_t delta) { queue_length_->add(delta); }
void GatewayMetrics::queue_wait(double seconds) { queue_wait_.Observe(seconds); }
void GatewayMetrics::in_flight_delta(std::int64_t delta) { in_flight_->add(delta); }

}  // namespace fs::metrics
