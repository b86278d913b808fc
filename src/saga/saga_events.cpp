#include "saga/saga_events.hpp"

#include "domain/reservation.hpp"
#include "saga/payment_saga.hpp"

namespace fs::saga {

events::DeliveryHandler saga_event_handler(PaymentSaga& saga) {
  PaymentSaga* s = &saga;
  return [s](const events::Delivery& d) -> boost::asio::awaitable<Status> {
    if (d.event.type != events::types::payment_requested) co_return Status{};
    if (!valid_uuid(d.event.key))
      co_return events::poison("payment.requested without a reservation id as its key");
    std::string id = d.event.key;
    co_return co_await s->handle(std::move(id));
  };
}

}  // namespace fs::saga
