#pragma once
// PaymentProvider over Stripe's REST API (or the bundled simulator): form-encoded bodies,
// Bearer auth, Idempotency-Key, JSON replies. One keep-alive connection per client, bound to
// one executor; calls on one client must not overlap (use one client per concurrent flow).
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"
#include "payments/payment_provider.hpp"

namespace fs::http {
class Connection;
}

namespace fs::payments {

struct StripeClientConfig {
  std::string host = "api.stripe.com";
  std::uint16_t port = 443;
  std::string secret_key;                     // "sk_test_..." / "sk_live_..."
  std::chrono::milliseconds timeout{10'000};  // per call: connect + send + full reply
  // Sent with every request (e.g. Stripe-Version, or the simulator's X-Sim-Fault in tests).
  std::vector<http::Header> extra_headers;
};

// Maps one Stripe reply onto the error model (pure; exposed for unit tests):
// 2xx → PaymentIntent; 402 card_error → PaymentIntent{declined=true}; 400 idempotency_error →
// idempotency_conflict; 409 → unavailable (key in flight, retry later); 401 → unauthorized;
// 404 → not_found; other 4xx → invalid_request; 5xx → unavailable; bad JSON → protocol_error.
Result<PaymentIntent> interpret_payment_intent_reply(int status, std::string_view body);
Result<Refund> interpret_refund_reply(int status, std::string_view body);

class StripeClient final : public PaymentProvider {
 public:
  StripeClient(boost::asio::any_io_executor executor, StripeClientConfig config);
  ~StripeClient() override;

  boost::asio::awaitable<Result<PaymentIntent>> create_payment_intent(
      PaymentRequest request) override;
  boost::asio::awaitable<Result<PaymentIntent>> retrieve_payment_intent(std::string id) override;
  boost::asio::awaitable<Result<Refund>> refund(std::string payment_intent_id,
                                                std::string idempotency_key) override;

 private:
  struct Reply {
    int status = 0;
    std::string body;
    bool replayed = false;
  };
  boost::asio::awaitable<Result<Reply>> call(std::string method, std::string target,
                                             std::string idempotency_key, std::string body);

  StripeClientConfig config_;
  std::unique_ptr<http::Connection> connection_;
};

}  // namespace fs::payments
