#pragma once
// Plugs the payment saga into the event log: one member of consumer group "saga" on topic
// `reservations`. payment.requested is handed to PaymentSaga::handle and acked when it
// succeeds (the saga ended, or a live worker holds it); a failure leaves the entry pending, so
// it is redelivered (XAUTOCLAIM by a live member once it idles past reclaim_idle). Other event
// types on the topic are acked at once. Handlers are idempotent, so duplicates are harmless.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <string>

namespace fs::events {
class EventLog;
}

namespace fs::saga {

class PaymentSaga;

inline constexpr const char* kSagaGroup = "saga";

struct SagaConsumerOptions {
  std::string consumer;  // unique per member, e.g. "<host>-<pid>-<n>"
  std::chrono::milliseconds block{1000};
  std::chrono::milliseconds reclaim_idle{30'000};
  std::size_t max_batch = 16;
};

class SagaConsumer {
 public:
  SagaConsumer(events::EventLog& log, PaymentSaga& saga, SagaConsumerOptions options)
      : log_(log), saga_(saga), options_(std::move(options)) {}

  // Consumes until `stopping()` holds.
  boost::asio::awaitable<void> run(std::function<bool()> stopping);

 private:
  events::EventLog& log_;
  PaymentSaga& saga_;
  SagaConsumerOptions options_;
};

}  // namespace fs::saga
