#pragma once
// The gateway layers as seen by HTTP handlers: turns a request into a gateway::ShopperContext,
// a gateway::Rejection into an api.md response, and serves the CAPTCHA and admin endpoints.
#include <boost/asio/awaitable.hpp>
#include <optional>
#include <span>
#include <string_view>

#include "api/api.hpp"
#include "common/result.hpp"
#include "domain/jwt.hpp"
#include "gateway/gateway.hpp"
#include "http/message.hpp"
#include "http/router.hpp"

namespace fs::api {

// Which layers a shopper endpoint goes through.
enum class GuardLevel {
  edge,         // client IP bucket (and, authenticated, user bucket and bans)
  reservation,  // edge + bot scoring/CAPTCHA + admission queue + concurrency limit
};

// What a reservation does once admitted, and the only request headers it reads. With it, a
// request that must wait in the admission queue is parked by the server (http::Parking) instead
// of waiting in a coroutine: no frame is held while it waits, and the request keeps only its
// method, path, body and these headers.
struct AfterAdmission {
  using Handler = boost::asio::awaitable<http::Response> (*)(const ApiDeps&, http::Request&,
                                                             const auth::Claims&);
  Handler handler = nullptr;
  std::span<const std::string_view> headers;
};

// Runs the layers for `req`. A response means "answer this"; nullopt means go on (with
// `admission` holding the request's concurrency slot for reservations). `claims` is null for
// unauthenticated requests: only the IP bucket applies then (the caller answers 401).
// No-op when deps.gateway is null. With `then` (reservations) and a server that parks, a queued
// request is answered by a parked response whose resume() runs then.handler once admitted.
boost::asio::awaitable<std::optional<http::Response>> guard_shopper(
    const ApiDeps& deps, http::Request& req, const auth::Claims* claims, GuardLevel level,
    gateway::Admission& admission, const AfterAdmission* then = nullptr);

http::Response rejection_response(const gateway::Rejection& rejection);

// GET/POST /v1/captcha/{id} and /v1/admin/gateway/... (when deps.gateway is set).
void add_gateway_routes(http::Router& router, const ApiDeps& deps);

}  // namespace fs::api
