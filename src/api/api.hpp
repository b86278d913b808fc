#pragma once
// The public HTTP API of api.md: routes, authentication, error mapping and idempotent replay.
// Handlers translate HTTP to service calls; the services know nothing of HTTP.
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "http/router.hpp"
#include "http/server.hpp"

namespace fs::auth {
class JwtVerifier;
}
namespace fs::metrics {
class MetricsRegistry;
class HttpMetrics;
class ReservationMetrics;
class NotificationMetrics;
}  // namespace fs::metrics
namespace fs::gateway {
class Gateway;
}
namespace fs::notifications {
class NotificationFeed;
}
namespace fs::reservation {
class ReservationService;
class IdempotencyStore;
}  // namespace fs::reservation
namespace fs::saga {
class SagaStore;
}

namespace fs::api {

// What the API needs from one I/O thread's services.
struct WorkerServices {
  reservation::ReservationService* reservations = nullptr;
  reservation::IdempotencyStore* idempotency = nullptr;
  saga::SagaStore* saga = nullptr;  // payments (/pay, orders, one-click); null: not configured
  notifications::NotificationFeed* notifications = nullptr;  // GET /v1/events; null: 503
  // true when Redis and PostgreSQL answer (for /readyz).
  std::function<boost::asio::awaitable<bool>()> ready;
};

struct ApiDeps {
  std::vector<WorkerServices> workers;  // indexed by Request::worker
  const auth::JwtVerifier* jwt = nullptr;
  metrics::MetricsRegistry* registry = nullptr;
  metrics::ReservationMetrics* reservation_metrics = nullptr;  // outcomes decided in the API
  metrics::NotificationMetrics* notification_metrics = nullptr;
  const Clock* clock = nullptr;
  gateway::Gateway* gateway = nullptr;  // null: no gateway layers (rate limits, queue, bots)
};

// The HTTP status of each error code (api.md's table).
int http_status(Errc code) noexcept;
http::Response error_response(const Error& error);

// Builds the router; `deps` must outlive it.
http::Router build_router(const ApiDeps& deps);

// Records every answered request in HttpMetrics (route, status, api.md error code).
class MetricsObserver final : public http::RequestObserver {
 public:
  MetricsObserver(const http::Router& router, metrics::HttpMetrics& metrics)
      : router_(router), metrics_(metrics) {}
  void on_request(const http::Request& req, const http::Response& res,
                  std::chrono::nanoseconds elapsed) override;
  void on_connection_change(int delta) override;

 private:
  const http::Router& router_;
  metrics::HttpMetrics& metrics_;
};

// Extracts "code" from an api.md error body ("" when absent).
std::string_view error_code_of(std::string_view body) noexcept;

}  // namespace fs::api
