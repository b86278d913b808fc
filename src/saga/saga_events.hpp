#pragma once
// Plugs the payment saga into the event log: the handler of consumer group "saga" on topic
// `reservations` (run by events::ConsumerLoop, which acks on success, retries transient failures
// and dead-letters poison). payment.requested goes to PaymentSaga::handle; every other type of
// the topic is acknowledged untouched. Handlers are idempotent, so duplicates are harmless.
#include "events/consumer_loop.hpp"

namespace fs::saga {

class PaymentSaga;

inline constexpr const char* kSagaGroup = "saga";

// `saga` must outlive the handler.
events::DeliveryHandler saga_event_handler(PaymentSaga& saga);

}  // namespace fs::saga
