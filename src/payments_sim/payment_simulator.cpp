#include "payments_sim/payment_simulator.hpp"

#include <pthread.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <csignal>
#include <functional>
#include <iostream>
#include <mutex>
#include <unordered_map>

#include "common/parse_int.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "payments/form_encoding.hpp"
#include "payments_sim/idempotency_store.hpp"
#include "runtime/io_runtime.hpp"

namespace fs::payments_sim {

namespace asio = boost::asio;
namespace json = boost::json;
using payments::form_value;
using payments::FormFields;

namespace {

enum class Fault { none, timeout, server_error, drop_after_charge };

enum class Card { succeeds, declined, insufficient_funds, unknown };

Card card_for(std::string_view method) {
  if (method == "pm_card_visa" || method == "pm_card_mastercard" || method == "tok_visa" ||
      method == "tok_mastercard")
    return Card::succeeds;
  if (method == "pm_card_chargeDeclined" || method == "tok_chargeDeclined") return Card::declined;
  if (method == "pm_card_chargeDeclinedInsufficientFunds" ||
      method == "tok_chargeDeclinedInsufficientFunds")
    return Card::insufficient_funds;
  return Card::unknown;
}

std::string reply_body(json::object o) { return json::serialize(o); }

StoredReply stripe_error(int status, std::string_view type, std::string_view code,
                         std::string_view message, json::object extra = {}) {
  json::object error;
  error["type"] = type;
  if (!code.empty()) error["code"] = code;
  error["message"] = message;
  for (auto& kv : extra) error[kv.key()] = std::move(kv.value());
  json::object root;
  root["error"] = std::move(error);
  return StoredReply{status, reply_body(std::move(root))};
}

http::Response to_response(const StoredReply& reply) {
  return http::Response::json(reply.status, reply.body);
}

// Stripe compares parameters, not bytes: the order of form fields does not matter.
std::string fingerprint(std::string_view route, FormFields fields) {
  std::sort(fields.begin(), fields.end());
  return std::string(route) + "?" + payments::encode_form(fields);
}

bool authorized(const http::Request& req) {
  constexpr std::string_view kPrefix = "Bearer sk_test_";
  auto auth = req.header("authorization");
  return auth.size() > kPrefix.size() && auth.substr(0, kPrefix.size()) == kPrefix;
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  if (d.count() <= 0) co_return;
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

// Sends the head of a response whose body never comes, until the client gives up, the server
// stops, or `limit` passes.
http::Response hang(std::chrono::milliseconds limit) {
  http::Response res;
  res.status = 200;
  res.stream = [limit](http::StreamWriter& writer) -> asio::awaitable<void> {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (std::chrono::steady_clock::now() < deadline) {
      timer.expires_after(std::chrono::milliseconds{20});
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      std::string nothing;  // an empty write only asks whether the client is still there
      if (!co_await writer.write(nothing)) co_return;
    }
  };
  return res;
}

}  // namespace

struct PaymentSimulator::Impl {
  Impl(IoRuntime& rt, PaymentSimulatorOptions opts)
      : runtime(rt),
        options(std::move(opts)),
        clock(options.clock ? *options.clock : SystemClock::instance()),
        random(options.random ? *options.random : SecureRandom::instance()),
        idempotency(clock) {}

  IoRuntime& runtime;
  PaymentSimulatorOptions options;
  const Clock& clock;
  Random& random;

  mutable std::mutex mutex;  // guards everything below
  IdempotencyStore idempotency;
  std::vector<LedgerCharge> charges;
  std::unordered_map<std::string, std::size_t> charge_by_intent;
  std::unordered_map<std::string, std::size_t> charge_by_id;

  http::Router router;
  std::unique_ptr<http::Server> server;

  std::string new_id(std::string_view prefix) { return std::string(prefix) + random.hex(12); }

  std::chrono::milliseconds draw_latency() {
    std::lock_guard lock(mutex);
    auto lo = options.latency_min.count(), hi = std::max(options.latency_max.count(), lo);
    if (hi == lo) return std::chrono::milliseconds{lo};
    auto span = static_cast<std::uint64_t>(hi - lo + 1);
    return std::chrono::milliseconds{lo + static_cast<std::int64_t>(random.next_u64() % span)};
  }

  Fault draw_fault(const http::Request& req) {
    auto forced = req.header("x-sim-fault");
    if (forced == "timeout") return Fault::timeout;
    if (forced == "5xx") return Fault::server_error;
    if (forced == "drop_after_charge") return Fault::drop_after_charge;
    if (!forced.empty()) return Fault::none;
    double r;
    {
      std::lock_guard lock(mutex);
      r = static_cast<double>(random.next_u64() >> 11) * 0x1.0p-53;
    }
    if (r < options.fault_timeout_rate) return Fault::timeout;
    r -= options.fault_timeout_rate;
    if (r < options.fault_5xx_rate) return Fault::server_error;
    r -= options.fault_5xx_rate;
    if (r < options.fault_drop_rate) return Fault::drop_after_charge;
    return Fault::none;
  }

  std::int64_t now_seconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(clock.now().time_since_epoch()).count();
  }

  json::object intent_json(const LedgerCharge& c) const {
    const bool paid = c.status == "succeeded";
    json::object o;
    o["id"] = c.payment_intent;
    o["object"] = "payment_intent";
    o["amount"] = c.amount;
    o["amount_received"] = paid ? c.amount : 0;
    o["currency"] = c.currency;
    o["status"] = paid ? "succeeded" : "requires_payment_method";
    o["payment_method"] = c.payment_method;
    o["latest_charge"] = c.id;
    o["capture_method"] = "automatic";
    o["confirmation_method"] = "automatic";
    o["created"] = now_seconds();
    o["livemode"] = false;
    o["metadata"] = json::object();
    return o;
  }

  json::object charge_json(const LedgerCharge& c) const {
    json::object o;
    o["id"] = c.id;
    o["object"] = "charge";
    o["amount"] = c.amount;
    o["currency"] = c.currency;
    o["paid"] = c.status == "succeeded";
    o["status"] = c.status;
    o["refunded"] = c.refunded;
    o["payment_intent"] = c.payment_intent.empty() ? json::value() : json::value(c.payment_intent);
    o["failure_code"] = c.failure_code.empty() ? json::value() : json::value(c.failure_code);
    o["livemode"] = false;
    return o;
  }

  // Records one charge attempt; caller holds the mutex. `intent` is false for /v1/charges.
  StoredReply charge(std::int64_t amount, const std::string& currency, const std::string& method,
                     const std::string& key, bool intent) {
    Card card = card_for(method);
    if (card == Card::unknown) {
      json::object extra;
      extra["param"] = intent ? "payment_method" : "source";
      return stripe_error(400, "invalid_request_error", "resource_missing",
                          "No such PaymentMethod: '" + method + "'", std::move(extra));
    }
    LedgerCharge c;
    c.id = new_id("ch_");
    if (intent) c.payment_intent = new_id("pi_");
    c.idempotency_key = key;
    c.amount = amount;
    c.currency = currency;
    c.payment_method = method;
    c.status = card == Card::succeeds ? "succeeded" : "failed";
    if (card == Card::declined) c.failure_code = "card_declined";
    if (card == Card::insufficient_funds) c.failure_code = "insufficient_funds";
    charges.push_back(c);
    charge_by_id[c.id] = charges.size() - 1;
    if (intent) charge_by_intent[c.payment_intent] = charges.size() - 1;

    if (card == Card::succeeds)
      return StoredReply{200, reply_body(intent ? intent_json(c) : charge_json(c))};
    json::object extra;
    extra["decline_code"] = card == Card::declined ? "generic_decline" : "insufficient_funds";
    extra["charge"] = c.id;
    if (intent) extra["payment_intent"] = intent_json(c);
    return stripe_error(
        402, "card_error", c.failure_code,
        card == Card::declined ? "Your card was declined." : "Your card has insufficient funds.",
        std::move(extra));
  }

  // Stripe's idempotent POST: replay, conflict and in-flight checks, latency, faults, then
  // `execute` (called with the mutex held) produces the reply the key keeps.
  asio::awaitable<http::Response> idempotent_post(http::Request& req, std::string fp,
                                                  std::function<StoredReply()> execute) {
    const Fault fault = draw_fault(req);
    const std::string key(req.header("idempotency-key"));
    if (!key.empty()) {
      IdempotencyStore::Begin begun;
      {
        std::lock_guard lock(mutex);
        begun = idempotency.begin(key, fp);
      }
      if (begun.outcome != IdempotencyStore::Outcome::fresh) {
        co_await sleep_for(draw_latency());
        if (begun.outcome == IdempotencyStore::Outcome::replay) {
          http::Response res = to_response(begun.reply);
          res.with_header("Idempotent-Replayed", "true");
          res.with_header("Idempotency-Key", key);
          co_return res;
        }
        if (begun.outcome == IdempotencyStore::Outcome::in_flight)
          co_return to_response(stripe_error(
              409, "invalid_request_error", "idempotency_key_in_use",
              "There is currently another in-progress request using this Idempotent Key."));
        co_return to_response(stripe_error(
            400, "idempotency_error", "",
            "Keys for idempotent requests can only be used with the same parameters they were "
            "first used with."));
      }
    }
    co_await sleep_for(draw_latency());
    if (fault == Fault::server_error || fault == Fault::timeout) {
      if (!key.empty()) {
        std::lock_guard lock(mutex);
        idempotency.abandon(key);
      }
      if (fault == Fault::timeout) co_return hang(options.hang_limit);
      co_return to_response(
          stripe_error(500, "api_error", "", "An unknown error occurred (simulated)."));
    }
    StoredReply reply;
    {
      std::lock_guard lock(mutex);
      reply = execute();
      if (!key.empty()) idempotency.finish(key, reply);
    }
    if (fault == Fault::drop_after_charge) co_return hang(options.hang_limit);
    http::Response res = to_response(reply);
    if (!key.empty()) res.with_header("Idempotency-Key", key);
    co_return res;
  }

  static std::optional<StoredReply> invalid(std::string_view message, std::string_view param) {
    json::object extra;
    extra["param"] = param;
    return stripe_error(400, "invalid_request_error", "parameter_missing", message,
                        std::move(extra));
  }

  // Validates amount/currency; nullopt when fine.
  static std::optional<StoredReply> check_amount(const FormFields& form, std::int64_t& amount,
                                                 std::string& currency) {
    auto amount_text = form_value(form, "amount");
    if (!amount_text || !parse_int(*amount_text, amount) || amount <= 0)
      return invalid("Missing or invalid required param: amount.", "amount");
    auto cur = form_value(form, "currency");
    if (!cur || cur->empty()) return invalid("Missing required param: currency.", "currency");
    currency = *cur;
    return std::nullopt;
  }

  asio::awaitable<http::Response> create_intent(http::Request& req) {
    if (!authorized(req)) co_return unauthorized();
    auto form = payments::decode_form(req.body);
    if (!form) co_return to_response(*invalid("Malformed form body.", "body"));
    std::int64_t amount = 0;
    std::string currency;
    if (auto bad = check_amount(*form, amount, currency)) co_return to_response(*bad);
    std::string method = form_value(*form, "payment_method").value_or("");
    if (method.empty())
      co_return to_response(*invalid("Missing required param: payment_method.", "payment_method"));
    if (form_value(*form, "confirm").value_or("") != "true")
      co_return to_response(*invalid("This simulator only supports confirm=true.", "confirm"));
    std::string key(req.header("idempotency-key"));
    std::function<StoredReply()> execute = [this, amount, currency, method, key] {
      return charge(amount, currency, method, key, true);
    };
    std::string fp = fingerprint("POST /v1/payment_intents", std::move(*form));
    co_return co_await idempotent_post(req, std::move(fp), std::move(execute));
  }

  asio::awaitable<http::Response> create_charge(http::Request& req) {
    if (!authorized(req)) co_return unauthorized();
    auto form = payments::decode_form(req.body);
    if (!form) co_return to_response(*invalid("Malformed form body.", "body"));
    std::int64_t amount = 0;
    std::string currency;
    if (auto bad = check_amount(*form, amount, currency)) co_return to_response(*bad);
    std::string method =
        form_value(*form, "source").value_or(form_value(*form, "payment_method").value_or(""));
    if (method.empty())
      co_return to_response(*invalid("Missing required param: source.", "source"));
    std::string key(req.header("idempotency-key"));
    std::function<StoredReply()> execute = [this, amount, currency, method, key] {
      return charge(amount, currency, method, key, false);
    };
    std::string fp = fingerprint("POST /v1/charges", std::move(*form));
    co_return co_await idempotent_post(req, std::move(fp), std::move(execute));
  }

  StoredReply refund_locked(const std::string& intent_id, const std::string& charge_id) {
    std::size_t index = 0;
    if (!intent_id.empty()) {
      auto it = charge_by_intent.find(intent_id);
      if (it == charge_by_intent.end())
        return stripe_error(404, "invalid_request_error", "resource_missing",
                            "No such payment_intent: '" + intent_id + "'");
      index = it->second;
    } else {
      auto it = charge_by_id.find(charge_id);
      if (it == charge_by_id.end())
        return stripe_error(404, "invalid_request_error", "resource_missing",
                            "No such charge: '" + charge_id + "'");
      index = it->second;
    }
    LedgerCharge& c = charges[index];
    if (c.status != "succeeded")
      return stripe_error(400, "invalid_request_error", "charge_not_refundable",
                          "This charge did not succeed and cannot be refunded.");
    if (c.refunded)
      return stripe_error(400, "invalid_request_error", "charge_already_refunded",
                          "Charge " + c.id + " has already been refunded.");
    c.refunded = true;
    json::object o;
    o["id"] = new_id("re_");
    o["object"] = "refund";
    o["amount"] = c.amount;
    o["currency"] = c.currency;
    o["charge"] = c.id;
    o["payment_intent"] = c.payment_intent.empty() ? json::value() : json::value(c.payment_intent);
    o["status"] = "succeeded";
    o["created"] = now_seconds();
    return StoredReply{200, reply_body(std::move(o))};
  }

  asio::awaitable<http::Response> create_refund(http::Request& req) {
    if (!authorized(req)) co_return unauthorized();
    auto form = payments::decode_form(req.body);
    if (!form) co_return to_response(*invalid("Malformed form body.", "body"));
    std::string intent_id = form_value(*form, "payment_intent").value_or("");
    std::string charge_id = form_value(*form, "charge").value_or("");
    if (intent_id.empty() && charge_id.empty())
      co_return to_response(
          *invalid("One of payment_intent or charge is required.", "payment_intent"));
    std::function<StoredReply()> execute = [this, intent_id, charge_id] {
      return refund_locked(intent_id, charge_id);
    };
    std::string fp = fingerprint("POST /v1/refunds", std::move(*form));
    co_return co_await idempotent_post(req, std::move(fp), std::move(execute));
  }

  asio::awaitable<http::Response> retrieve_intent(http::Request& req) {
    if (!authorized(req)) co_return unauthorized();
    co_await sleep_for(draw_latency());
    std::string id(req.param("id"));
    std::lock_guard lock(mutex);
    auto it = charge_by_intent.find(id);
    if (it == charge_by_intent.end())
      co_return to_response(stripe_error(404, "invalid_request_error", "resource_missing",
                                         "No such payment_intent: '" + id + "'"));
    co_return http::Response::json(200, reply_body(intent_json(charges[it->second])));
  }

  asio::awaitable<http::Response> ledger_route(http::Request& req) {
    std::optional<std::string> key;
    if (auto query = payments::decode_form(req.query)) key = form_value(*query, "key");
    json::array out;
    for (const auto& c : ledger(key)) {
      json::object o;
      o["id"] = c.id;
      o["payment_intent"] = c.payment_intent;
      o["idempotency_key"] = c.idempotency_key;
      o["amount"] = c.amount;
      o["currency"] = c.currency;
      o["payment_method"] = c.payment_method;
      o["status"] = c.status;
      o["refunded"] = c.refunded;
      out.push_back(std::move(o));
    }
    co_return http::Response::json(200, json::serialize(out));
  }

  std::vector<LedgerCharge> ledger(const std::optional<std::string>& key) const {
    std::lock_guard lock(mutex);
    std::vector<LedgerCharge> out;
    for (const auto& c : charges)
      if (!key || c.idempotency_key == *key) out.push_back(c);
    return out;
  }

  static http::Response unauthorized() {
    return to_response(stripe_error(401, "invalid_request_error", "",
                                    "Invalid API Key provided (expected Bearer sk_test_...)."));
  }
};

PaymentSimulator::PaymentSimulator(IoRuntime& runtime, PaymentSimulatorOptions options)
    : impl_(std::make_unique<Impl>(runtime, std::move(options))) {
  Impl* impl = impl_.get();
  impl->router.add("POST", "/v1/payment_intents",
                   [impl](http::Request& r) { return impl->create_intent(r); });
  impl->router.add("GET", "/v1/payment_intents/{id}",
                   [impl](http::Request& r) { return impl->retrieve_intent(r); });
  impl->router.add("POST", "/v1/refunds",
                   [impl](http::Request& r) { return impl->create_refund(r); });
  impl->router.add("POST", "/v1/charges",
                   [impl](http::Request& r) { return impl->create_charge(r); });
  impl->router.add("GET", "/_sim/ledger",
                   [impl](http::Request& r) { return impl->ledger_route(r); });
}

PaymentSimulator::~PaymentSimulator() { stop(); }

void PaymentSimulator::start() {
  http::ServerConfig config;
  config.address = impl_->options.address;
  config.port = impl_->options.port;
  Impl* impl = impl_.get();
  impl_->server = std::make_unique<http::Server>(
      impl_->runtime, config, [impl](http::Request& r) { return impl->router.dispatch(r); });
  impl_->server->start();
}

std::uint16_t PaymentSimulator::port() const { return impl_->server ? impl_->server->port() : 0; }

void PaymentSimulator::stop() {
  if (impl_->server) impl_->server->stop(std::chrono::milliseconds{2000});
}

std::vector<LedgerCharge> PaymentSimulator::ledger(
    const std::optional<std::string>& idempotency_key) const {
  return impl_->ledger(idempotency_key);
}

int run_payments_sim(PaymentSimulatorOptions options) {
  // Taken synchronously with sigwait; the runtime's threads inherit the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  try {
    IoRuntime runtime(std::max<std::size_t>(options.threads, 1), "fs-paysim");
    runtime.start();
    {
      PaymentSimulator sim(runtime, options);
      sim.start();
      std::cout << "payments-sim listening on http://" << options.address << ":" << sim.port()
                << std::endl;
      int sig = 0;
      sigwait(&signals, &sig);
      std::cout << "signal " << sig << ": stopping" << std::endl;
      sim.stop();
    }
    runtime.stop();
  } catch (const std::exception& e) {
    std::cerr << "payments-sim: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace fs::payments_sim
