#include "api/api.hpp"

#include <array>
#include <optional>

#include "api/events_endpoint.hpp"
#include "api/gateway_routes.hpp"
#include "api/payment_routes.hpp"
#include "api/request_auth.hpp"
#include "domain/json_views.hpp"
#include "domain/jwt.hpp"
#include "domain/requests.hpp"
#include "metrics/http_metrics.hpp"
#include "metrics/metrics_registry.hpp"
#include "metrics/reservation_metrics.hpp"
#include "notifications/notification_feed.hpp"
#include "reservation/idempotency_store.hpp"
#include "reservation/reservation_service.hpp"

namespace fs::api {

Result<auth::Claims> authenticate(const ApiDeps& deps, const http::Request& req) {
  auto h = req.header("authorization");
  if (h.empty()) return Error{Errc::unauthorized, "missing bearer token"};
  return deps.jwt->verify_bearer(h);
}

Result<auth::Claims> authenticate_admin(const ApiDeps& deps, const http::Request& req) {
  auto claims = authenticate(deps, req);
  if (!claims) return claims;
  if (!claims->is_admin()) return Error{Errc::unauthorized, "admin role required"};
  return claims;
}

namespace {

using http::Request;
using http::Response;
using Awaitable = boost::asio::awaitable<Response>;

// Rejections decided before the service runs are counted here; the service counts its own.
Response rejected(const ApiDeps& deps, std::string_view outcome, const Error& error) {
  if (deps.reservation_metrics) deps.reservation_metrics->outcome(outcome);
  return error_response(error);
}

// GET /v1/events: the shopper's own notifications as SSE (events_endpoint.hpp).
Awaitable get_events(const ApiDeps& deps, Request& req) {
  auto claims = authenticate(deps, req);
  gateway::Admission unused;
  if (auto r =
          co_await guard_shopper(deps, req, claims ? &*claims : nullptr, GuardLevel::edge, unused))
    co_return std::move(*r);
  if (!claims) co_return error_response(claims.error());
  auto* feed = worker_of(deps, req).notifications;
  if (!feed) co_return error_response({Errc::unavailable, "notifications are not enabled"});
  std::string after(req.header("last-event-id"));
  if (after.empty()) after = std::string(query_value(req.query, "last_event_id"));
  if (!after.empty() && !notifications::is_stream_id(after))
    co_return error_response({Errc::invalid_request, "Last-Event-ID is not an event id"});
  const bool replay = query_value(req.query, "replay") == "1";
  co_return events_stream(*feed, claims->sub, std::move(after), replay, SseConfig{},
                          deps.notification_metrics);
}

// The answer to a reservation: 201 with the record, or the error.
Response reservation_response(const Result<Reservation>& r) {
  return r ? Response::json(201, reservation_json(*r)) : error_response(r.error());
}

void add_location(Response& res, const Result<Reservation>& r) {
  if (r) res.with_header("Location", "/v1/reservations/" + r->reservation_id);
}

// POST /v1/reservations with an Idempotency-Key (api.md): claim the key, reserve, store the
// answer for replays.
Awaitable reserve_idempotent(const ApiDeps& deps, Request& req, const auth::Claims& claims) {
  const auto& w = worker_of(deps, req);
  auto k = req.header("idempotency-key");
  if (!valid_idempotency_key(k))
    co_return rejected(
        deps, "invalid_request",
        {Errc::invalid_request, "Idempotency-Key must be 1-255 visible ASCII characters"});
  const std::string key(k);
  auto parsed = parse_reservation_request(req.body);
  if (!parsed) co_return rejected(deps, "invalid_request", parsed.error());

  const std::string fp = reservation::fingerprint_hash(parsed->fingerprint());
  auto claim = co_await w.idempotency->claim(claims.sub, key, fp);
  if (!claim)
    co_return rejected(deps, "unavailable", {Errc::unavailable, "idempotency store unavailable"});
  switch (claim->kind) {
    case reservation::IdempotencyClaim::Kind::claimed:
      break;
    case reservation::IdempotencyClaim::Kind::in_flight:
      co_return rejected(
          deps, "idempotency_conflict",
          {Errc::idempotency_conflict, "a request with this Idempotency-Key is still in flight"});
    case reservation::IdempotencyClaim::Kind::mismatch:
      co_return rejected(
          deps, "idempotency_conflict",
          {Errc::idempotency_conflict, "Idempotency-Key was used with a different request"});
    case reservation::IdempotencyClaim::Kind::replay: {
      if (deps.reservation_metrics) deps.reservation_metrics->outcome("idempotent_replay");
      auto res = Response::json(claim->status, std::move(claim->body));
      res.with_header("Idempotent-Replayed", "true");
      co_return res;
    }
  }

  // Built outside the co_await: GCC 12 may destroy a temporary of a co_await expression twice.
  std::optional<reservation::IdempotencyTag> tag = reservation::IdempotencyTag{key, fp};
  auto r = co_await w.reservations->reserve(claims.sub, *parsed, std::move(tag));
  // One-click buy: the payment saga starts once the reservation is committed (the 201 body still
  // shows it PENDING, as api.md says).
  if (r && parsed->payment_method)
    co_await start_one_click(w.saga, claims.sub, r->reservation_id, *parsed->payment_method);
  Response res = reservation_response(r);
  if (res.status >= 500)
    (void)co_await w.idempotency->release(claims.sub, key);
  else
    (void)co_await w.idempotency->complete(claims.sub, key, fp, res.status, res.body);
  add_location(res, r);
  co_return res;
}

// The reservation itself, once the gateway admitted the request: a coroutine of its own so that
// its frame exists only after the wait in the admission queue. The plain click is kept apart
// from the idempotent one: every local of a coroutine lives in its frame, and with 256 requests
// suspended at Redis at once, the frames' memory is what the two I/O threads keep touching.
Awaitable reserve_admitted(const ApiDeps& deps, Request& req, const auth::Claims& claims) {
  if (req.has_header("idempotency-key")) co_return co_await reserve_idempotent(deps, req, claims);
  // The body must be JSON whatever Content-Type claims (curl -d sends a form type).
  auto parsed = parse_reservation_request(req.body);
  if (!parsed) co_return rejected(deps, "invalid_request", parsed.error());
  const auto& w = worker_of(deps, req);
  // Most clicks of a burst are refused from memory (sold out): answered here, without the
  // service's coroutine.
  if (auto refused = w.reservations->refuse_without_io(*parsed)) co_return error_response(*refused);
  std::optional<reservation::IdempotencyTag> no_tag;  // a named local: see reserve_idempotent
  auto r = co_await w.reservations->reserve(claims.sub, *parsed, std::move(no_tag));
  if (r && parsed->payment_method)  // one-click buy, as in reserve_idempotent
    co_await start_one_click(w.saga, claims.sub, r->reservation_id, *parsed->payment_method);
  Response res = reservation_response(r);
  add_location(res, r);
  co_return res;
}

// What reserve_admitted reads besides the body: a request parked in the admission queue keeps
// only these headers.
constexpr std::array<std::string_view, 1> kReservationHeaders{"idempotency-key"};
const AfterAdmission kReserveAdmitted{reserve_admitted, kReservationHeaders};

Awaitable post_reservation(const ApiDeps& deps, Request& req) {
  auto claims = authenticate(deps, req);
  gateway::Admission admission;  // the concurrency slot, held until the answer is built
  if (deps.gateway) {            // without a gateway guard_shopper lets everything pass: no call
    std::optional<Response> r =
        co_await guard_shopper(deps, req, claims ? &*claims : nullptr, GuardLevel::reservation,
                               admission, &kReserveAdmitted);
    if (r) co_return std::move(*r);
  }
  if (!claims) co_return rejected(deps, "unauthorized", claims.error());
  co_return co_await reserve_admitted(deps, req, *claims);
}

Awaitable get_reservation(const ApiDeps& deps, Request& req) {
  auto claims = authenticate(deps, req);
  gateway::Admission unused;
  if (auto r =
          co_await guard_shopper(deps, req, claims ? &*claims : nullptr, GuardLevel::edge, unused))
    co_return std::move(*r);
  if (!claims) co_return error_response(claims.error());
  auto r =
      co_await worker_of(deps, req).reservations->get(claims->sub, std::string(req.param("id")));
  if (!r) co_return error_response(r.error());
  co_return Response::json(200, reservation_json(*r));
}

Awaitable get_product(const ApiDeps& deps, Request& req) {
  gateway::Admission unused;
  if (auto r = co_await guard_shopper(deps, req, nullptr, GuardLevel::edge, unused))
    co_return std::move(*r);
  std::string id(req.param("id"));
  if (!valid_identifier(id)) co_return error_response({Errc::not_found, "unknown product"});
  auto& svc = *worker_of(deps, req).reservations;
  auto p = co_await svc.product(id);
  if (!p) co_return error_response(p.error());
  co_return Response::json(200, product_json(**p, svc.available(**p), deps.clock->now()));
}

Awaitable put_product(const ApiDeps& deps, Request& req) {
  auto claims = authenticate_admin(deps, req);
  if (!claims) co_return error_response(claims.error());
  auto spec = parse_product_request(req.param("id"), req.body);
  if (!spec) co_return error_response(spec.error());
  auto p = co_await worker_of(deps, req).reservations->put_product(*spec);
  if (!p) co_return error_response(p.error());
  co_return Response::json(200, admin_product_json(*p));
}

Awaitable get_stats(const ApiDeps& deps, Request& req) {
  auto claims = authenticate_admin(deps, req);
  if (!claims) co_return error_response(claims.error());
  std::string id(req.param("id"));
  if (!valid_identifier(id)) co_return error_response({Errc::not_found, "unknown product"});
  auto& svc = *worker_of(deps, req).reservations;
  auto s = co_await svc.stats(id);
  if (!s) co_return error_response(s.error());
  auto p = co_await svc.product(id);
  if (!p) co_return error_response(p.error());
  co_return Response::json(200, stats_json(**p, *s));
}

}  // namespace

int http_status(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_request:
      return 400;
    case Errc::unauthorized:
      return 401;
    case Errc::captcha_required:
      return 403;
    case Errc::blocked:
      return 403;
    case Errc::not_found:
      return 404;
    case Errc::queue_timeout:
      return 408;
    case Errc::limit_exceeded:
      return 409;
    case Errc::idempotency_conflict:
      return 409;
    case Errc::invalid_state:
      return 409;
    case Errc::sale_in_progress:
      return 409;
    case Errc::sold_out:
      return 410;
    case Errc::payload_too_large:
      return 413;
    case Errc::sale_not_active:
      return 422;
    case Errc::rate_limited:
      return 429;
    case Errc::overloaded:
      return 503;
    default:
      return 503;
  }
}

namespace {
http::Response build_error_response(const Error& error) {
  Errc code = error.code;
  // Backend details never leave the server: clients see `unavailable`.
  switch (code) {
    case Errc::timeout:
    case Errc::unique_violation:
    case Errc::serialization_failure:
    case Errc::protocol_error:
    case Errc::backend_error:
    case Errc::cancelled:
    case Errc::internal:
      code = Errc::unavailable;
      break;
    default:
      break;
  }
  int status = http_status(code);
  std::string_view message = error.message;
  if (code != error.code || message.empty()) message = "service temporarily unavailable";
  auto res = http::Response::error(status, to_string(code), message);
  if (status == 503) res.with_header("Retry-After", "1");
  return res;
}
}  // namespace

http::Response error_response(const Error& error) {
  // Refusals repeat (sold out, per-user limit): the last few are kept per I/O thread, so the
  // answer to most clicks of a burst is a copy of a response serialised once.
  struct Memo {
    Errc code;
    std::string message;
    http::Response response;
  };
  constexpr std::size_t kMemo = 4;
  thread_local std::array<std::optional<Memo>, kMemo> memo;
  thread_local std::size_t next = 0;
  for (const auto& m : memo)
    if (m && m->code == error.code && m->message == error.message) return m->response;
  auto res = build_error_response(error);
  memo[next++ % kMemo] = Memo{error.code, error.message, res};
  return res;
}

http::Router build_router(const ApiDeps& deps) {
  http::Router r;
  const ApiDeps* d = &deps;
  r.add("POST", "/v1/reservations", [d](Request& q) { return post_reservation(*d, q); });
  r.add("GET", "/v1/reservations/{id}", [d](Request& q) { return get_reservation(*d, q); });
  add_payment_routes(r, deps);
  r.add("GET", "/v1/products/{id}", [d](Request& q) { return get_product(*d, q); });
  r.add("GET", "/v1/events", [d](Request& q) { return get_events(*d, q); });
  r.add("PUT", "/v1/admin/products/{id}", [d](Request& q) { return put_product(*d, q); });
  r.add("GET", "/v1/admin/products/{id}/stats", [d](Request& q) { return get_stats(*d, q); });
  add_gateway_routes(r, deps);
  r.add("GET", "/healthz",
        [](Request&) -> Awaitable { co_return Response::json(200, R"({"status":"ok"})"); });
  r.add("GET", "/readyz", [d](Request& q) -> Awaitable {
    bool ok = co_await worker_of(*d, q).ready();
    if (ok) co_return Response::json(200, R"({"status":"ready"})");
    auto res = Response::error(503, "unavailable", "Redis or PostgreSQL is not reachable");
    res.with_header("Retry-After", "1");
    co_return res;
  });
  r.add("GET", "/metrics", [d](Request&) -> Awaitable {
    Response res;
    res.status = 200;
    res.content_type = "text/plain; version=0.0.4";
    res.body = d->registry->serialize();
    co_return res;
  });
  return r;
}

std::string_view error_code_of(std::string_view body) noexcept {
  constexpr std::string_view kKey = "\"code\":\"";
  auto pos = body.find(kKey);
  if (pos == std::string_view::npos) return {};
  pos += kKey.size();
  auto end = body.find('"', pos);
  if (end == std::string_view::npos || end - pos > 64) return {};
  return body.substr(pos, end - pos);
}

void MetricsObserver::on_request(const http::Request& req, const http::Response& res,
                                 std::chrono::nanoseconds elapsed) {
  metrics_.observe(router_.route_of(req), res.status,
                   res.status >= 400 ? error_code_of(res.body) : std::string_view{}, elapsed);
}

void MetricsObserver::on_connection_change(int delta) { metrics_.connections(delta); }

}  // namespace fs::api
