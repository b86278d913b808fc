#pragma once
// The saga's end-to-end harness: the service (ServiceUnderTest) and the payment simulator in
// this process, over the shared redis-server and a fresh PostgreSQL database per sale; worker
// roles started in-process (BackgroundWorkers) or as `flashsale worker` child processes.
#include <boost/json.hpp>
#include <memory>
#include <string>

#include "../payments/payments_test_support.hpp"
#include "app/workers.hpp"
#include "support/sale_fixture.hpp"
#include "support/servers.hpp"

namespace fs::test {

inline app::WorkersConfig workers_config(const ServiceUnderTest& svc, std::uint16_t sim_port) {
  app::WorkersConfig c;
  c.redis_port = shared_redis().port();
  c.pg_conninfo = svc.pg_conninfo();
  c.payments_port = sim_port;
  c.payments_timeout = std::chrono::milliseconds{2000};
  c.sweep_interval = std::chrono::milliseconds{200};
  c.intake_poll = std::chrono::milliseconds{20};
  c.retry.give_up_after = std::chrono::milliseconds{2000};
  c.retry.initial = std::chrono::milliseconds{20};
  c.retry.max_delay = std::chrono::milliseconds{200};
  c.return_repair_interval = std::chrono::milliseconds{200};
  c.return_repair_min_age = std::chrono::milliseconds{500};
  return c;
}

inline std::string field(const std::string& body, const char* name) {
  auto v = boost::json::parse(body);
  const auto* o = v.if_object();
  if (!o) return {};
  const auto* f = o->if_contains(name);
  if (!f) return {};
  if (f->is_string()) return std::string(f->as_string());
  return boost::json::serialize(*f);
}

inline std::string pay_body(const std::string& pm) {
  return R"({"payment_method":")" + pm + R"("})";
}

}  // namespace fs::test
