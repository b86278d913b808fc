// A `flashsale worker` process killed with SIGKILL at each step of a saga: another worker
// resumes it from its recorded state, and the card is charged exactly once.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include "saga_test_support.hpp"

namespace fs::test {
namespace {

using payments::testing::simulator;

class SagaCrash : public ::testing::TestWithParam<const char*> {};

TEST_P(SagaCrash, AnotherWorkerFinishesWithOneCharge) {
  const std::string step = GetParam();
  ServiceUnderTest svc(shared_redis().port(), fresh_database(shared_postgres()));
  const auto product = unique_name("p");
  ASSERT_EQ(
      send_one(svc.port(),
               {"PUT", "/v1/admin/products/" + product, admin_token(), product_body(3, 2, 1), {}})
          .status,
      200);
  const auto user = unique_name("u");
  auto created = send_one(
      svc.port(), {"POST", "/v1/reservations", user_token(user), reservation_body(product), {}});
  ASSERT_EQ(created.status, 201) << created.body;
  const auto id = field(created.body, "reservation_id");

  ScratchDir dir("flashsale-saga-crash");
  stack::ChildProcess::Options o;
  o.argv = {FLASHSALE_BINARY,
            "worker",
            "--roles",
            "saga",
            "--redis",
            "127.0.0.1:" + std::to_string(shared_redis().port()),
            "--pg",
            svc.pg_conninfo(),
            "--payments",
            "127.0.0.1:" + std::to_string(simulator().port()),
            "--payments-timeout-ms",
            "2000",
            "--saga-concurrency",
            "2"};
  o.env = {"FLASHSALE_SAGA_KILL_AT=" + step};
  o.log_file = dir.path() / "worker.log";
  auto child = stack::ChildProcess::spawn(o);
  ASSERT_TRUE(child.ok()) << child.error().message;

  auto pay = send_one(
      svc.port(),
      {"POST", "/v1/reservations/" + id + "/pay", user_token(user), pay_body("pm_card_visa"), {}});
  ASSERT_EQ(pay.status, 202) << pay.body;
  ASSERT_TRUE((*child)->wait_for_exit(std::chrono::seconds{20})) << "the worker was not killed";
  auto ws = (*child)->wait_status();
  ASSERT_TRUE(ws && WIFSIGNALED(*ws) && WTERMSIG(*ws) == SIGKILL);
  const auto killed = std::chrono::steady_clock::now();

  const auto status = [&] {
    return svc.sql("SELECT status FROM reservations WHERE reservation_id = '" + id + "'");
  };
  const auto charges = simulator().sim().ledger("res_" + id);
  if (step == std::string("claimed")) {
    EXPECT_EQ(status(), "PAYING");
    EXPECT_EQ(charges.size(), 0u);
  } else if (step == std::string("charged")) {
    EXPECT_EQ(status(), "PAYING");  // charged, not yet recorded
    EXPECT_EQ(charges.size(), 1u);
  } else {
    EXPECT_EQ(status(), "PAID");
  }

  // A second worker resumes once the dead worker's lease lapses: the default lease (6 s), no
  // longer renewed by the dead worker, not the whole length of a saga attempt.
  auto c = workers_config(svc, simulator().port());
  c.lease = app::WorkersConfig{}.lease;
  c.roles = {"saga"};
  c.poll_intake = false;  // only the safety net: stale PAYING with a lapsed lease
  c.stale_paying_after = std::chrono::milliseconds{500};
  app::BackgroundWorkers rescuer(c);
  rescuer.start();
  EXPECT_TRUE(wait_until([&] { return status() == "PAID"; }, std::chrono::seconds{30},
                         std::chrono::milliseconds{50}));
  const auto resumed_after = std::chrono::steady_clock::now() - killed;
  EXPECT_LT(resumed_after, c.lease + std::chrono::seconds{6})
      << "resumed " << std::chrono::duration_cast<std::chrono::milliseconds>(resumed_after).count()
      << " ms after the kill";
  rescuer.stop();
  std::size_t succeeded = 0;
  for (const auto& ch : simulator().sim().ledger("res_" + id))
    if (ch.status == "succeeded") ++succeeded;
  EXPECT_EQ(succeeded, 1u);
  EXPECT_EQ(svc.sql("SELECT count(*) FROM orders WHERE reservation_id = '" + id + "'"), "1");
  auto st = svc.stats(product);
  EXPECT_EQ(st.available + st.pending + st.paying + st.paid, st.stock_total);
  EXPECT_EQ(st.paid, 1);
}

INSTANTIATE_TEST_SUITE_P(EachStep, SagaCrash, ::testing::Values("claimed", "charged", "paid"));

// The lease is short but renewed while the charge is in flight: with a provider slower than the
// lease, a second worker scanning for lapsed leases never takes the saga over.
TEST(SagaLease, RenewedWhileTheChargeIsInFlightSoNoTakeover) {
  auto slow_options = payments::testing::instant_options();
  slow_options.latency_min = std::chrono::milliseconds{3000};
  slow_options.latency_max = std::chrono::milliseconds{3000};
  payments::testing::SimulatorFixture slow(slow_options);
  ServiceUnderTest svc(shared_redis().port(), fresh_database(shared_postgres()));
  const auto product = unique_name("p");
  svc.put_product(product, 3, 1, 1);
  auto c = workers_config(svc, slow.port());
  c.roles = {"saga"};
  c.lease = std::chrono::milliseconds{900};
  c.payments_timeout = std::chrono::milliseconds{10'000};
  c.poll_intake = true;  // both scan for PAYING rows with no live lease, every 20 ms
  app::BackgroundWorkers first(c);
  first.start();
  const auto user = unique_name("u");
  std::string body = reservation_body(product);
  body.insert(body.size() - 1, R"(,"payment_method":"pm_card_visa")");  // one-click
  const auto id =
      field(send_one(svc.port(), {"POST", "/v1/reservations", user_token(user), body, {}}).body,
            "reservation_id");
  ASSERT_FALSE(id.empty());
  const auto attempts = [&] {
    return svc.sql("SELECT saga_attempts FROM reservations WHERE reservation_id = '" + id + "'");
  };
  ASSERT_TRUE(wait_until([&] { return attempts() == "1"; }, std::chrono::seconds{10},
                         std::chrono::milliseconds{10}));
  app::BackgroundWorkers second(c);  // joins while the 3 s charge is in flight
  second.start();
  ASSERT_TRUE(wait_until(
      [&] {
        return svc.sql("SELECT status FROM reservations WHERE reservation_id = '" + id + "'") ==
               "PAID";
      },
      std::chrono::seconds{20}, std::chrono::milliseconds{50}));
  second.stop();
  first.stop();
  EXPECT_EQ(attempts(), "1") << "another worker took the saga over while it was charging";
  EXPECT_EQ(slow.sim().ledger("res_" + id).size(), 1u);
}

}  // namespace
}  // namespace fs::test
