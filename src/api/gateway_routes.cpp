#include "api/gateway_routes.hpp"

#include <algorithm>
#include <memory>
#include <utility>

#include "api/request_auth.hpp"
#include "common/json_escape.hpp"
#include "domain/requests.hpp"
#include "domain/time_format.hpp"

namespace fs::api {
namespace {

using http::Request;
using http::Response;
using Awaitable = boost::asio::awaitable<Response>;

std::string client_ip_of(const gateway::Gateway& g, const Request& req) {
  return g.client_ip(req.remote_ip, req.header("x-forwarded-for"));
}

Response json_error_with(const Error& error, std::int64_t retry_after) {
  auto res = error_response(error);
  if (retry_after > 0) {
    std::erase_if(res.headers, [](const http::Header& h) { return h.name == "Retry-After"; });
    res.with_header("Retry-After", std::to_string(retry_after));
  }
  return res;
}

Awaitable get_captcha(const ApiDeps& deps, Request& req) {
  std::string id(req.param("id"));
  auto image = co_await deps.gateway->captcha_image(req.worker, id);
  if (!image) co_return error_response(image.error());
  Response res;
  res.status = 200;
  res.content_type = "image/svg+xml";
  res.body = std::move(*image);
  res.with_header("Cache-Control", "no-store");
  co_return res;
}

Awaitable post_captcha(const ApiDeps& deps, Request& req) {
  auto claims = authenticate(deps, req);
  if (!claims) co_return error_response(claims.error());
  auto parsed = parse_captcha_answer_request(req.body);
  if (!parsed) co_return error_response(parsed.error());
  std::string id(req.param("id"));
  std::string ip = client_ip_of(*deps.gateway, req);
  auto solved =
      co_await deps.gateway->solve_captcha(req.worker, id, parsed->answer, ip, claims->sub);
  if (!solved) co_return error_response(solved.error());
  if (!solved->solved)
    co_return json_error_with({Errc::blocked, "wrong CAPTCHA answer: IP address and user blocked"},
                              solved->ban_seconds);
  co_return Response::json(200, R"({"captcha_token":")" + json_escape(solved->token) + "\"}");
}

std::string iso(std::int64_t unix_seconds) {
  return format_rfc3339(SysTime{std::chrono::seconds{unix_seconds}});
}

Awaitable list_bans(const ApiDeps& deps, Request& req) {
  auto claims = authenticate_admin(deps, req);
  if (!claims) co_return error_response(claims.error());
  auto bans = co_await deps.gateway->list_bans(req.worker);
  if (!bans) co_return error_response(bans.error());
  std::string body = R"({"bans":[)";
  bool first = true;
  for (const auto& b : *bans) {
    if (!first) body += ',';
    first = false;
    body += R"({"kind":")" + json_escape(b.kind) + R"(","value":")" + json_escape(b.value) +
            R"(","expires_at":")" + iso(b.expires_at_unix) + "\"}";
  }
  body += "]}";
  co_return Response::json(200, std::move(body));
}

Awaitable lift_ban(const ApiDeps& deps, Request& req) {
  auto claims = authenticate_admin(deps, req);
  if (!claims) co_return error_response(claims.error());
  std::string kind(req.param("kind"));
  if (kind != "ip" && kind != "user")
    co_return error_response({Errc::not_found, "ban kind is ip or user"});
  std::string value(req.param("value"));
  auto lifted = co_await deps.gateway->lift_ban(req.worker, kind, value);
  if (!lifted) co_return error_response(lifted.error());
  if (!*lifted) co_return error_response({Errc::not_found, "no such ban"});
  co_return Response::json(200, R"({"lifted":true})");
}

Awaitable list_challenges(const ApiDeps& deps, Request& req) {
  auto claims = authenticate_admin(deps, req);
  if (!claims) co_return error_response(claims.error());
  auto list = co_await deps.gateway->list_challenges(req.worker);
  if (!list) co_return error_response(list.error());
  std::string body = R"({"challenges":[)";
  bool first = true;
  for (const auto& c : *list) {
    if (!first) body += ',';
    first = false;
    body += R"({"id":")" + json_escape(c.id) + R"(","ttl_seconds":)" +
            std::to_string(c.ttl_seconds) + "}";
  }
  body += "]}";
  co_return Response::json(200, std::move(body));
}

Awaitable drop_challenge(const ApiDeps& deps, Request& req) {
  auto claims = authenticate_admin(deps, req);
  if (!claims) co_return error_response(claims.error());
  std::string id(req.param("id"));
  auto dropped = co_await deps.gateway->drop_challenge(req.worker, id);
  if (!dropped) co_return error_response(dropped.error());
  if (!*dropped) co_return error_response({Errc::not_found, "no such challenge"});
  co_return Response::json(200, R"({"dropped":true})");
}

}  // namespace

Response rejection_response(const gateway::Rejection& r) {
  if (r.code == Errc::captcha_required) {
    const std::string id = json_escape(r.captcha_id);
    return Response::json(403, R"({"error":{"code":"captcha_required","message":")" +
                                   json_escape(r.message) + R"("},"captcha":{"id":")" + id +
                                   R"(","image_url":"/v1/captcha/)" + id + "\"}}");
  }
  return json_error_with({r.code, r.message}, r.retry_after_seconds);
}

namespace {

// Edge layers, then (reservations) the bot score. A coroutine of its own, finished before the
// request parks in the admission queue, so its frame (the shopper context, ~700 bytes) is not
// held by every queued request.
boost::asio::awaitable<std::optional<Response>> screen_shopper(gateway::Gateway& g, Request& req,
                                                               const auth::Claims* claims,
                                                               GuardLevel level) {
  gateway::ShopperContext ctx;
  ctx.ip = client_ip_of(g, req);
  if (claims) {
    ctx.user_id = claims->sub;
    ctx.account_created_unix = claims->acct_created;
  }
  if (auto r = co_await g.check_edge(req.worker, ctx)) co_return rejection_response(*r);
  if (!claims || level != GuardLevel::reservation) co_return std::nullopt;

  ctx.user_agent = req.header("user-agent");
  if (req.has_header("x-client-signals")) ctx.client_signals = req.header("x-client-signals");
  ctx.captcha_token = req.header("x-captcha-token");
  if (auto r = co_await g.check_bot(req.worker, ctx)) co_return rejection_response(*r);
  co_return std::nullopt;
}

// Admission queue and concurrency limit: an error response, or the admission.
boost::asio::awaitable<Result<gateway::Admission>> admit_shopper(gateway::Gateway& g,
                                                                 Request& req) {
  gateway::DisconnectHook hook;
  if (req.disconnect) {
    http::DisconnectWatch* watch = req.disconnect;
    hook = [watch](std::function<void()> on_gone) {
      watch->notify_on_disconnect(std::move(on_gone));
    };
  }
  co_return co_await g.admit(req.worker, req.disconnect ? &hook : nullptr);
}

Response client_gone_response() {  // nobody is listening; nginx's 499
  return Response::error(499, "client_closed_request", "the client went away");
}

// A reservation waiting in the admission queue while the server holds it parked: the queue
// tells it its turn (on_turn), the server its client's leaving (abandon), and resume() finishes
// the reservation. All that a queued reservation holds besides the connection and its request.
class QueuedReservation final : public http::Parking, public gateway::AdmissionGate::Waiter {
 public:
  QueuedReservation(const ApiDeps& deps, std::size_t worker, gateway::AdmissionQueue::Ticket ticket,
                    const auth::Claims& claims, const AfterAdmission& then)
      : deps_(deps),
        then_(then.handler),
        alive_(deps.gateway->queue_alive(worker)),
        worker_(worker),
        ticket_(ticket),
        claims_(claims) {}
  QueuedReservation(const QueuedReservation&) = delete;
  QueuedReservation& operator=(const QueuedReservation&) = delete;
  // Destroyed still waiting (an io_context stopped at shutdown): the queue must forget it.
  ~QueuedReservation() override { leave(); }

  void park(Waker& waker) override {
    waker_ = &waker;
    if (outcome_ != Outcome::waiting) waker.wake();
  }
  void abandon() override {
    leave();
    waker_ = nullptr;
  }
  void on_turn(Status status) override {
    outcome_ = status ? Outcome::admitted : Outcome::timed_out;
    if (waker_) std::exchange(waker_, nullptr)->wake();
  }

  boost::asio::awaitable<Response> resume(Request& req) override {
    if (outcome_ == Outcome::timed_out)
      co_return error_response({Errc::queue_timeout, "waited too long in the admission queue"});
    if (outcome_ != Outcome::admitted) co_return client_gone_response();
    auto admission = deps_.gateway->take_slot();
    if (!admission) co_return error_response(admission.error());
    co_return co_await then_(deps_, req, claims_);
  }

 private:
  enum class Outcome : unsigned char { waiting, admitted, timed_out, gone };
  void leave() {
    if (outcome_ != Outcome::waiting) return;
    outcome_ = Outcome::gone;
    if (*alive_) deps_.gateway->leave_queue(worker_, ticket_);
  }

  const ApiDeps& deps_;
  AfterAdmission::Handler then_;
  std::shared_ptr<bool> alive_;
  std::size_t worker_;
  gateway::AdmissionQueue::Ticket ticket_;
  auth::Claims claims_;
  Waker* waker_ = nullptr;
  Outcome outcome_ = Outcome::waiting;
};

// Admission without a coroutine: admitted at once (then `admission` holds the concurrency slot),
// refused, or parked (a response with `parking`; the request keeps only what resume() reads).
std::optional<Response> admit_or_park(const ApiDeps& deps, Request& req, const auth::Claims& claims,
                                      const AfterAdmission& then, gateway::Admission& admission) {
  gateway::Gateway& g = *deps.gateway;
  auto joined = g.join_queue(req.worker);
  if (!joined) return error_response(joined.error());
  if (*joined != 0) {
    auto queued = std::make_shared<QueuedReservation>(deps, req.worker, *joined, claims, then);
    g.wait_in_queue(req.worker, *joined, *queued);
    std::erase_if(req.headers, [&](const http::Header& h) {
      return std::find(then.headers.begin(), then.headers.end(), h.name) == then.headers.end();
    });
    req.headers.shrink_to_fit();
    Response parked;
    parked.parking = std::move(queued);
    return parked;
  }
  auto slot = g.take_slot();
  if (!slot) return error_response(slot.error());
  admission = std::move(*slot);
  return std::nullopt;
}

}  // namespace

boost::asio::awaitable<std::optional<Response>> guard_shopper(const ApiDeps& deps, Request& req,
                                                              const auth::Claims* claims,
                                                              GuardLevel level,
                                                              gateway::Admission& admission,
                                                              const AfterAdmission* then) {
  gateway::Gateway* g = deps.gateway;
  if (!g) co_return std::nullopt;
  {
    std::optional<Response> rejected = co_await screen_shopper(*g, req, claims, level);
    if (rejected) co_return rejected;
  }
  if (!claims || level != GuardLevel::reservation) co_return std::nullopt;
  if (then && req.parkable) co_return admit_or_park(deps, req, *claims, *then, admission);
  auto admitted = co_await admit_shopper(*g, req);
  if (!admitted) {
    if (admitted.code() == Errc::cancelled) co_return client_gone_response();
    co_return error_response(admitted.error());
  }
  admission = std::move(*admitted);
  co_return std::nullopt;
}

void add_gateway_routes(http::Router& r, const ApiDeps& deps) {
  if (!deps.gateway) return;
  const ApiDeps* d = &deps;
  r.add("GET", "/v1/captcha/{id}", [d](Request& q) { return get_captcha(*d, q); });
  r.add("POST", "/v1/captcha/{id}", [d](Request& q) { return post_captcha(*d, q); });
  r.add("GET", "/v1/admin/gateway/bans", [d](Request& q) { return list_bans(*d, q); });
  r.add("DELETE", "/v1/admin/gateway/bans/{kind}/{value}",
        [d](Request& q) { return lift_ban(*d, q); });
  r.add("GET", "/v1/admin/gateway/challenges", [d](Request& q) { return list_challenges(*d, q); });
  r.add("DELETE", "/v1/admin/gateway/challenges/{id}",
        [d](Request& q) { return drop_challenge(*d, q); });
}

}  // namespace fs::api
