#pragma once
// The payment endpoints of api.md: POST /v1/reservations/{id}/pay and GET /v1/orders/{id}
// (payment_routes.cpp), plus the one-click start used by POST /v1/reservations.
#include <boost/asio/awaitable.hpp>
#include <string>

#include "http/router.hpp"

namespace fs::saga {
class SagaStore;
}

namespace fs::api {

struct ApiDeps;

void add_payment_routes(http::Router& router, const ApiDeps& deps);

// One-click buy: moves a just-created reservation to PAYING (after its 201 commit). Failures
// are logged: the reservation stays PENDING and the shopper can still call /pay.
boost::asio::awaitable<void> start_one_click(saga::SagaStore* saga, std::string user_id,
                                             std::string reservation_id,
                                             std::string payment_method);

}  // namespace fs::api
