#pragma once
// The payment provider as the saga sees it. A card decline is an outcome (PaymentIntent with
// declined=true), not an error, because the saga branches on it; errors are transport or
// protocol problems: Errc::timeout (outcome unknown: retry with the SAME idempotency key),
// Errc::unavailable (5xx, connect failure, key still in flight: retryable),
// Errc::idempotency_conflict (key reused with other parameters), Errc::invalid_request (other
// 4xx), Errc::unauthorized (bad API key), Errc::not_found, Errc::protocol_error (bad reply).
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>

#include "common/result.hpp"

namespace fs::payments {

struct PaymentRequest {
  std::int64_t amount_cents = 0;
  std::string currency = "usd";
  std::string payment_method;   // e.g. "pm_card_visa"
  std::string idempotency_key;  // required: the same key makes a retry safe
  std::string reservation_id;   // sent as metadata[reservation_id]
};

struct PaymentIntent {
  std::string id;      // "pi_..."; may be empty for a decline Stripe reports without an intent
  std::string status;  // "succeeded", "requires_payment_method", ...
  std::int64_t amount = 0;
  std::string currency;
  bool declined = false;
  std::string decline_code;  // "card_declined", "insufficient_funds" when declined
  std::string error_code;    // Stripe's error.code when declined
  bool replayed = false;     // answered from Stripe's idempotency cache
};

struct Refund {
  std::string id;  // "re_..."
  std::string payment_intent;
  std::string status;  // "succeeded"
  std::int64_t amount = 0;
  bool replayed = false;
};

class PaymentProvider {
 public:
  virtual ~PaymentProvider() = default;
  // Creates and confirms a payment intent (charges the card at once).
  virtual boost::asio::awaitable<Result<PaymentIntent>> create_payment_intent(
      PaymentRequest request) = 0;
  virtual boost::asio::awaitable<Result<PaymentIntent>> retrieve_payment_intent(std::string id) = 0;
  virtual boost::asio::awaitable<Result<Refund>> refund(std::string payment_intent_id,
                                                        std::string idempotency_key) = 0;
};

}  // namespace fs::payments
