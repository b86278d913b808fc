// `flashsale worker --metrics-port`: a worker process serves GET /metrics (every role's metrics,
// one registry) and GET /healthz on its own listener.
#include <gtest/gtest.h>

#include "saga_test_support.hpp"
#include "support/scratch_dir.hpp"

namespace fs::test {
namespace {

using namespace std::chrono_literals;
using payments::testing::simulator;

TEST(WorkerMetrics, AWorkerProcessServesMetricsAndHealthz) {
  ServiceUnderTest svc(shared_redis().port(), fresh_database(shared_postgres()));
  const auto product = unique_name("p");
  svc.put_product(product, 3, 1, 1);
  const auto port = stack::free_port();
  ScratchDir dir("flashsale-worker-metrics");
  stack::ChildProcess::Options o;
  o.argv = {FLASHSALE_BINARY, "worker",
            "--roles",        "saga,sweeper,relay",
            "--redis",        "127.0.0.1:" + std::to_string(shared_redis().port()),
            "--pg",           svc.pg_conninfo(),
            "--payments",     "127.0.0.1:" + std::to_string(simulator().port()),
            "--metrics-port", std::to_string(port)};
  o.log_file = dir.path() / "worker.log";
  auto child = stack::ChildProcess::spawn(o);
  ASSERT_TRUE(child.ok()) << child.error().message;
  ASSERT_TRUE(wait_until([&] { return stack::port_accepts_connections(port); }, 20s));

  auto health = send_one(port, {"GET", "/healthz", "", "", {}});
  EXPECT_EQ(health.status, 200) << health.body;
  EXPECT_EQ(field(health.body, "status"), "ok");
  EXPECT_NE(field(health.body, "roles").find("saga"), std::string::npos) << health.body;
  EXPECT_NE(field(health.body, "roles").find("relay"), std::string::npos) << health.body;

  // A purchase paid by this worker shows in its metrics.
  const auto user = unique_name("u");
  auto created = send_one(
      svc.port(), {"POST", "/v1/reservations", user_token(user), reservation_body(product), {}});
  ASSERT_EQ(created.status, 201) << created.body;
  const auto id = field(created.body, "reservation_id");
  ASSERT_EQ(send_one(svc.port(), {"POST",
                                  "/v1/reservations/" + id + "/pay",
                                  user_token(user),
                                  pay_body("pm_card_visa"),
                                  {}})
                .status,
            202);
  ASSERT_TRUE(wait_until(
      [&] {
        return svc.sql("SELECT status FROM reservations WHERE reservation_id = '" + id + "'") ==
               "PAID";
      },
      20s, 50ms));
  auto metrics = send_one(port, {"GET", "/metrics", "", "", {}});
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find(R"(flashsale_saga_steps_total{step="paid"} 1)"), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find(R"(flashsale_payment_charges_total{outcome="succeeded"} 1)"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("flashsale_outbox"), std::string::npos)
      << "the relay's metrics are in the same registry";
  EXPECT_EQ(send_one(port, {"GET", "/nope", "", "", {}}).status, 404);
}

}  // namespace
}  // namespace fs::test
