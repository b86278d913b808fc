#pragma once
// A Stripe-compatible payment server for tests and local runs (see api.md, "Payment provider"):
// POST /v1/payment_intents, GET /v1/payment_intents/{id}, POST /v1/refunds, POST /v1/charges,
// Stripe's test payment methods, Stripe's idempotency rules, random latency and injected faults,
// and a ledger (GET /_sim/ledger[?key=K]) that tests read to prove there was no double charge.
//
// Faults (by rate, or forced per request with the header X-Sim-Fault):
//   5xx                500 api_error; nothing charged, the idempotency key stays unused.
//   timeout            nothing charged; no answer until the client gives up (or hang_limit).
//   drop_after_charge  the charge is recorded (and replayed for the same key), then no answer.
// "No answer" means the status line is sent but the body never completes, so the client's
// read times out; fs::http::Server offers no way to close a connection from a handler.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/random.hpp"

namespace fs {
class IoRuntime;
}

namespace fs::payments_sim {

struct PaymentSimulatorOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;   // 0: a free port (see PaymentSimulator::port())
  std::size_t threads = 1;  // for run_payments_sim
  std::chrono::milliseconds latency_min{500};
  std::chrono::milliseconds latency_max{2000};
  double fault_timeout_rate = 0;
  double fault_5xx_rate = 0;
  double fault_drop_rate = 0;
  std::chrono::milliseconds hang_limit{30'000};  // longest a timeout/drop fault holds a request
  const Clock* clock = nullptr;                  // idempotency key expiry; SystemClock when null
  Random* random = nullptr;  // ids, latency, fault draws; SecureRandom when null
};

struct LedgerCharge {
  std::string id;              // "ch_..."
  std::string payment_intent;  // "pi_..." (empty for a legacy /v1/charges charge)
  std::string idempotency_key;
  std::int64_t amount = 0;
  std::string currency;
  std::string payment_method;
  std::string status;  // "succeeded" or "failed"
  std::string failure_code;
  bool refunded = false;
};

class PaymentSimulator {
 public:
  // The runtime must be running and outlive the simulator.
  PaymentSimulator(IoRuntime& runtime, PaymentSimulatorOptions options);
  ~PaymentSimulator();
  PaymentSimulator(const PaymentSimulator&) = delete;
  PaymentSimulator& operator=(const PaymentSimulator&) = delete;

  void start();  // throws on bind failure
  std::uint16_t port() const;
  void stop();

  // Charges in creation order, optionally only those made with one idempotency key.
  std::vector<LedgerCharge> ledger(const std::optional<std::string>& idempotency_key = {}) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs the simulator until SIGINT/SIGTERM; returns the process exit code.
int run_payments_sim(PaymentSimulatorOptions options);

}  // namespace fs::payments_sim
