#include "app/metrics_listener.hpp"

#include <boost/json.hpp>

#include "http/router.hpp"
#include "http/server.hpp"
#include "metrics/metrics_registry.hpp"
#include "runtime/io_runtime.hpp"

namespace fs::app {

struct MetricsListener::Impl {
  Impl(metrics::MetricsRegistry& r, std::string address, std::uint16_t port, std::string roles)
      : registry(r), runtime(1, "fs-metrics") {
    config.address = std::move(address);
    config.port = port;
    boost::json::object health{{"status", "ok"}, {"roles", roles}};
    health_body = boost::json::serialize(health);
    router.add("GET", "/healthz", [this](http::Request&) -> boost::asio::awaitable<http::Response> {
      co_return http::Response::json(200, health_body);
    });
    router.add("GET", "/metrics", [this](http::Request&) -> boost::asio::awaitable<http::Response> {
      http::Response res;
      res.status = 200;
      res.content_type = "text/plain; version=0.0.4";
      res.body = registry.serialize();
      co_return res;
    });
  }

  metrics::MetricsRegistry& registry;
  IoRuntime runtime;
  http::ServerConfig config;
  http::Router router;
  std::string health_body;
  std::unique_ptr<http::Server> server;
  bool started = false, stopped = false;
};

MetricsListener::MetricsListener(metrics::MetricsRegistry& registry, std::string address,
                                 std::uint16_t port, std::string roles)
    : impl_(std::make_unique<Impl>(registry, std::move(address), port, std::move(roles))) {}

MetricsListener::~MetricsListener() { stop(); }

void MetricsListener::start() {
  auto& d = *impl_;
  d.runtime.start();
  d.server = std::make_unique<http::Server>(
      d.runtime, d.config, [&d](http::Request& r) { return d.router.dispatch(r); });
  try {
    d.server->start();
  } catch (...) {
    d.server.reset();
    d.runtime.stop();
    d.stopped = true;
    throw;
  }
  d.started = true;
}

std::uint16_t MetricsListener::port() const { return impl_->server ? impl_->server->port() : 0; }

void MetricsListener::stop() {
  auto& d = *impl_;
  if (!d.started || d.stopped) return;
  d.stopped = true;
  d.server->stop(std::chrono::milliseconds{1000});
  d.server.reset();
  d.runtime.stop();
}

}  // namespace fs::app
