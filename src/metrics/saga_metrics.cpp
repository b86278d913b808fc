#include "metrics/saga_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <string>

#include "metrics/metrics_registry.hpp"

namespace fs::metrics {

SagaMetrics::SagaMetrics(MetricsRegistry& registry)
    : steps_(prometheus::BuildCounter()
                 .Name("flashsale_saga_steps_total")
                 .Help("Payment saga steps taken, by step")
                 .Register(registry.prometheus())),
      charges_(prometheus::BuildCounter()
                   .Name("flashsale_payment_charges_total")
                   .Help("Charge attempts at the payment provider, by outcome")
                   .Register(registry.prometheus())),
      retries_(prometheus::BuildCounter()
                   .Name("flashsale_payment_retries_total")
                   .Help("Charge attempts retried after a transient provider error")
                   .Register(registry.prometheus())
                   .Add({})),
      compensations_(prometheus::BuildCounter()
                         .Name("flashsale_saga_compensations_total")
                         .Help("Payments that failed and had their stock returned")
                         .Register(registry.prometheus())
                         .Add({})),
      expiries_(prometheus::BuildCounter()
                    .Name("flashsale_reservations_expired_total")
                    .Help("Reservations expired by the sweeper")
                    .Register(registry.prometheus())
                    .Add({})),
      refunds_(prometheus::BuildCounter()
                   .Name("flashsale_payment_refunds_total")
                   .Help("Charges refunded because the reservation was no longer PAYING")
                   .Register(registry.prometheus())),
      returns_(prometheus::BuildCounter()
                   .Name("flashsale_stock_returns_total")
                   .Help("Units given back to Redis after a failure or an expiry, by result")
                   .Register(registry.prometheus())) {
  for (const char* s :
       {"requested", "claimed", "busy", "already_final", "paid", "failed", "refunded", "gave_up"})
    steps_.Add({{"step", s}});
  for (const char* o : {"succeeded", "declined", "rejected", "retry"})
    charges_.Add({{"outcome", o}});
}

void SagaMetrics::step(std::string_view step) {
  steps_.Add({{"step", std::string(step)}}).Increment();
}
void SagaMetrics::charge(std::string_view outcome) {
  charges_.Add({{"outcome", std::string(outcome)}}).Increment();
}
void SagaMetrics::retry() { retries_.Increment(); }
void SagaMetrics::compensation() { compensations_.Increment(); }
void SagaMetrics::expired(std::int64_t n) { expiries_.Increment(static_cast<double>(n)); }
void SagaMetrics::refund(std::string_view result) {
  refunds_.Add({{"result", std::string(result)}}).Increment();
}
void SagaMetrics::stock_return(std::string_view result) {
  returns_.Add({{"result", std::string(result)}}).Increment();
}

}  // namespace fs::metrics
