#pragma once
// One payment simulator per test binary (0 latency, loopback) and helpers to run client
// coroutines to completion.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <memory>
#include <optional>
#include <string>

#include "payments/stripe_client.hpp"
#include "payments_sim/payment_simulator.hpp"
#include "runtime/io_runtime.hpp"

namespace fs::payments::testing {

// Owns the runtime and the simulator (the runtime outlives the simulator).
class SimulatorFixture {
 public:
  explicit SimulatorFixture(payments_sim::PaymentSimulatorOptions options) : runtime_(2) {
    runtime_.start();
    sim_ = std::make_unique<payments_sim::PaymentSimulator>(runtime_, std::move(options));
    sim_->start();
  }
  ~SimulatorFixture() {
    sim_->stop();
    sim_.reset();
    runtime_.stop();
  }
  payments_sim::PaymentSimulator& sim() { return *sim_; }
  std::uint16_t port() const { return sim_->port(); }

 private:
  IoRuntime runtime_;
  std::unique_ptr<payments_sim::PaymentSimulator> sim_;
};

inline payments_sim::PaymentSimulatorOptions instant_options() {
  payments_sim::PaymentSimulatorOptions o;
  o.latency_min = std::chrono::milliseconds{0};
  o.latency_max = std::chrono::milliseconds{0};
  o.hang_limit = std::chrono::milliseconds{10'000};
  return o;
}

// The shared simulator at 0 latency.
inline SimulatorFixture& simulator() {
  static SimulatorFixture fixture(instant_options());
  return fixture;
}

inline StripeClientConfig client_config(std::uint16_t port,
                                        std::chrono::milliseconds timeout = std::chrono::seconds{
                                            5}) {
  StripeClientConfig c;
  c.host = "127.0.0.1";
  c.port = port;
  c.secret_key = "sk_test_123";
  c.timeout = timeout;
  return c;
}

inline PaymentRequest payment(std::string key, std::string method = "pm_card_visa",
                              std::int64_t amount = 1999) {
  PaymentRequest r;
  r.amount_cents = amount;
  r.currency = "usd";
  r.payment_method = std::move(method);
  r.idempotency_key = std::move(key);
  r.reservation_id = "res-1";
  return r;
}

// Runs the coroutine made by `make(client)` with a fresh client on a private io_context.
template <class F>
auto with_client(StripeClientConfig config, F&& make) {
  boost::asio::io_context ctx;
  StripeClient client(ctx.get_executor(), std::move(config));
  using Awaitable = decltype(make(client));
  using T = typename Awaitable::value_type;
  std::optional<T> out;
  std::exception_ptr error;
  boost::asio::co_spawn(
      ctx, [&]() -> boost::asio::awaitable<void> { out.emplace(co_await make(client)); },
      [&](std::exception_ptr e) { error = e; });
  ctx.run();
  if (error) std::rethrow_exception(error);
  return std::move(*out);
}

inline Result<PaymentIntent> pay(StripeClientConfig config, PaymentRequest request) {
  return with_client(std::move(config),
                     [&](StripeClient& c) { return c.create_payment_intent(std::move(request)); });
}

inline std::string unique_key(std::string_view prefix) {
  static std::atomic<int> n{0};
  return std::string(prefix) + "-" + std::to_string(++n) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

}  // namespace fs::payments::testing
