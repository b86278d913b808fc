#include "api/payment_routes.hpp"

#include <spdlog/spdlog.h>

#include "api/api.hpp"
#include "api/gateway_routes.hpp"
#include "api/request_auth.hpp"
#include "domain/json_views.hpp"
#include "domain/jwt.hpp"
#include "domain/order.hpp"
#include "domain/requests.hpp"
#include "reservation/idempotency_store.hpp"
#include "saga/saga_store.hpp"

namespace fs::api {
namespace {

using http::Request;
using http::Response;
using Awaitable = boost::asio::awaitable<Response>;

Awaitable post_pay(const ApiDeps& deps, Request& req) {
  auto claims = authenticate(deps, req);
  gateway::Admission unused;
  if (auto r =
          co_await guard_shopper(deps, req, claims ? &*claims : nullptr, GuardLevel::edge, unused))
    co_return std::move(*r);
  if (!claims) co_return error_response(claims.error());
  const auto& w = worker_of(deps, req);
  if (!w.saga) co_return error_response({Errc::unavailable, "payments are not configured"});
  std::optional<std::string> key;
  if (req.has_header("idempotency-key")) {
    auto k = req.header("idempotency-key");
    if (!valid_idempotency_key(k))
      co_return error_response(
          {Errc::invalid_request, "Idempotency-Key must be 1-255 visible ASCII characters"});
    key = std::string(k);
  }
  auto parsed = parse_pay_request(req.body);
  if (!parsed) co_return error_response(parsed.error());
  std::string id(req.param("id"));
  // Pay keys live in their own scope, apart from the reservation keys of the same user.
  const std::string scope = claims->sub + ":pay";
  std::string fp;
  if (key) {
    fp = reservation::fingerprint_hash("pay|" + id + "|" + parsed->payment_method);
    auto claim = co_await w.idempotency->claim(scope, *key, fp);
    if (!claim) co_return error_response({Errc::unavailable, "idempotency store unavailable"});
    switch (claim->kind) {
      case reservation::IdempotencyClaim::Kind::claimed:
        break;
      case reservation::IdempotencyClaim::Kind::in_flight:
        co_return error_response(
            {Errc::idempotency_conflict, "a request with this Idempotency-Key is still in flight"});
      case reservation::IdempotencyClaim::Kind::mismatch:
        co_return error_response(
            {Errc::idempotency_conflict, "Idempotency-Key was used with a different request"});
      case reservation::IdempotencyClaim::Kind::replay: {
        auto res = Response::json(claim->status, std::move(claim->body));
        res.with_header("Idempotent-Replayed", "true");
        co_return res;
      }
    }
  }
  auto started = co_await w.saga->begin_payment(claims->sub, id, parsed->payment_method);
  Response res = started ? Response::json(202, reservation_json(started->reservation))
                         : error_response(started.error());
  if (key) {
    if (res.status >= 500)
      (void)co_await w.idempotency->release(scope, *key);
    else
      (void)co_await w.idempotency->complete(scope, *key, fp, res.status, res.body);
  }
  co_return res;
}

Awaitable get_order(const ApiDeps& deps, Request& req) {
  auto claims = authenticate(deps, req);
  gateway::Admission unused;
  if (auto r =
          co_await guard_shopper(deps, req, claims ? &*claims : nullptr, GuardLevel::edge, unused))
    co_return std::move(*r);
  if (!claims) co_return error_response(claims.error());
  const auto& w = worker_of(deps, req);
  if (!w.saga) co_return error_response({Errc::not_found, "unknown order"});
  auto o = co_await w.saga->order(claims->sub, std::string(req.param("id")));
  if (!o) co_return error_response(o.error());
  co_return Response::json(200, order_json(*o));
}

}  // namespace

void add_payment_routes(http::Router& router, const ApiDeps& deps) {
  const ApiDeps* d = &deps;
  router.add("POST", "/v1/reservations/{id}/pay", [d](Request& q) { return post_pay(*d, q); });
  router.add("GET", "/v1/orders/{id}", [d](Request& q) { return get_order(*d, q); });
}

boost::asio::awaitable<void> start_one_click(saga::SagaStore* saga, std::string user_id,
                                             std::string reservation_id,
                                             std::string payment_method) {
  if (!saga) co_return;
  auto started = co_await saga->begin_payment(user_id, reservation_id, payment_method);
  if (!started)
    spdlog::warn("one-click buy: {} stays PENDING: {}", reservation_id, started.error().message);
}

}  // namespace fs::api
