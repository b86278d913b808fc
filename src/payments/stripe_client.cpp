#include "payments/stripe_client.hpp"

#include <boost/json.hpp>
#include <utility>
#include <vector>

#include "http/client.hpp"
#include "payments/form_encoding.hpp"

namespace fs::payments {

namespace json = boost::json;

namespace {

std::string string_field(const json::object& o, std::string_view key) {
  if (auto* v = o.if_contains(key); v && v->is_string()) return std::string(v->as_string());
  return {};
}

std::int64_t int_field(const json::object& o, std::string_view key) {
  if (auto* v = o.if_contains(key)) {
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
  }
  return 0;
}

std::optional<json::object> parse_object(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

PaymentIntent intent_from(const json::object& o) {
  PaymentIntent pi;
  pi.id = string_field(o, "id");
  pi.status = string_field(o, "status");
  pi.amount = int_field(o, "amount");
  pi.currency = string_field(o, "currency");
  return pi;
}

// Errors every endpoint shares; nullopt when the reply is not an error of this kind.
std::optional<Error> common_error(int status, const json::object* error) {
  std::string message = error ? string_field(*error, "message") : std::string();
  std::string type = error ? string_field(*error, "type") : std::string();
  if (status >= 500)
    return Error(Errc::unavailable, "payment provider " + std::to_string(status) + ": " + message);
  if (status == 409) return Error(Errc::unavailable, "idempotency key in use: " + message);
  if (type == "idempotency_error") return Error(Errc::idempotency_conflict, message);
  if (status == 401) return Error(Errc::unauthorized, message);
  if (status == 404) return Error(Errc::not_found, message);
  if (status >= 400 && status != 402) return Error(Errc::invalid_request, message);
  return std::nullopt;
}

const json::object* error_object(const json::object& reply) {
  if (auto* e = reply.if_contains("error"); e && e->is_object()) return &e->as_object();
  return nullptr;
}

}  // namespace

Result<PaymentIntent> interpret_payment_intent_reply(int status, std::string_view body) {
  auto reply = parse_object(body);
  if (!reply) {
    if (status >= 500)
      return Error(Errc::unavailable, "payment provider " + std::to_string(status));
    return Error(Errc::protocol_error, "payment provider sent no JSON object");
  }
  const json::object* error = error_object(*reply);
  if (auto e = common_error(status, error)) return std::move(*e);
  if (status >= 200 && status < 300) {
    PaymentIntent pi = intent_from(*reply);
    if (pi.id.empty() || pi.status.empty())
      return Error(Errc::protocol_error, "payment intent without id or status");
    return pi;
  }
  if (status == 402 && error && string_field(*error, "type") == "card_error") {
    PaymentIntent pi;
    if (auto* p = error->if_contains("payment_intent"); p && p->is_object())
      pi = intent_from(p->as_object());
    if (pi.status.empty()) pi.status = "requires_payment_method";
    pi.declined = true;
    pi.error_code = string_field(*error, "code");
    // Stripe reports insufficient funds as code=card_declined with a specific decline_code;
    // the saga wants the specific reason when there is one.
    pi.decline_code = string_field(*error, "decline_code");
    if (pi.decline_code.empty() || pi.decline_code == "generic_decline")
      pi.decline_code = pi.error_code;
    return pi;
  }
  return Error(Errc::protocol_error, "unexpected payment provider reply " + std::to_string(status));
}

Result<Refund> interpret_refund_reply(int status, std::string_view body) {
  auto reply = parse_object(body);
  if (!reply) {
    if (status >= 500)
      return Error(Errc::unavailable, "payment provider " + std::to_string(status));
    return Error(Errc::protocol_error, "payment provider sent no JSON object");
  }
  if (auto e = common_error(status, error_object(*reply))) return std::move(*e);
  if (status >= 200 && status < 300) {
    Refund r;
    r.id = string_field(*reply, "id");
    r.status = string_field(*reply, "status");
    r.amount = int_field(*reply, "amount");
    r.payment_intent = string_field(*reply, "payment_intent");
    if (r.id.empty()) return Error(Errc::protocol_error, "refund without id");
    return r;
  }
  return Error(Errc::protocol_error, "unexpected payment provider reply " + std::to_string(status));
}

StripeClient::StripeClient(boost::asio::any_io_executor executor, StripeClientConfig config)
    : config_(std::move(config)),
      connection_(http::make_connection(
          std::move(executor),
          http::ConnectionConfig{config_.host, config_.port, config_.timeout})) {}

StripeClient::~StripeClient() = default;

boost::asio::awaitable<Result<StripeClient::Reply>> StripeClient::call(std::string method,
                                                                       std::string target,
                                                                       std::string idempotency_key,
                                                                       std::string body) {
  std::vector<http::Header> headers;
  headers.push_back(http::Header{"Authorization", "Bearer " + config_.secret_key});
  if (!idempotency_key.empty()) headers.push_back(http::Header{"Idempotency-Key", idempotency_key});
  for (const auto& h : config_.extra_headers) headers.push_back(h);
  if (method == "POST")
    headers.push_back(http::Header{"Content-Type", "application/x-www-form-urlencoded"});
  http::ClientRequest request(std::move(method), std::move(target), std::move(headers),
                              std::move(body));
  auto response = co_await connection_->send(std::move(request));
  if (!response) co_return std::move(response).error();
  Reply reply;
  reply.status = response->status;
  reply.body = std::move(response->body);
  reply.replayed = response->header("idempotent-replayed") == "true";
  co_return reply;
}

boost::asio::awaitable<Result<PaymentIntent>> StripeClient::create_payment_intent(
    PaymentRequest request) {
  if (request.idempotency_key.empty())
    co_return Error(Errc::invalid_request, "a payment needs an idempotency key");
  FormFields fields;
  fields.emplace_back("amount", std::to_string(request.amount_cents));
  fields.emplace_back("currency", request.currency);
  fields.emplace_back("payment_method", request.payment_method);
  fields.emplace_back("confirm", "true");
  if (!request.reservation_id.empty())
    fields.emplace_back("metadata[reservation_id]", request.reservation_id);
  std::string body = encode_form(fields);
  auto reply = co_await call("POST", "/v1/payment_intents", std::move(request.idempotency_key),
                             std::move(body));
  if (!reply) co_return std::move(reply).error();
  auto intent = interpret_payment_intent_reply(reply->status, reply->body);
  if (intent) intent->replayed = reply->replayed;
  co_return intent;
}

boost::asio::awaitable<Result<PaymentIntent>> StripeClient::retrieve_payment_intent(
    std::string id) {
  std::string target = "/v1/payment_intents/" + percent_encode(id);
  auto reply = co_await call("GET", std::move(target), std::string(), std::string());
  if (!reply) co_return std::move(reply).error();
  co_return interpret_payment_intent_reply(reply->status, reply->body);
}

boost::asio::awaitable<Result<Refund>> StripeClient::refund(std::string payment_intent_id,
                                                            std::string idempotency_key) {
  FormFields fields;
  fields.emplace_back("payment_intent", std::move(payment_intent_id));
  std::string body = encode_form(fields);
  auto reply = co_await call("POST", "/v1/refunds", std::move(idempotency_key), std::move(body));
  if (!reply) co_return std::move(reply).error();
  auto refund = interpret_refund_reply(reply->status, reply->body);
  if (refund) refund->replayed = reply->replayed;
  co_return refund;
}

}  // namespace fs::payments
