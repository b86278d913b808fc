// Invariants fault "consumer lag builds up (worker down for a while)": the saga workers are down
// while shoppers pay; payment.requested queues on the event log past the reservations' TTL. The
// lag shows in the metrics (exported by the relay, since the group has no live member), the
// sweeper expires none of the queued reservations, and two workers started later pay them all.
#include <gtest/gtest.h>

#include <sstream>

#include "app/event_workers.hpp"
#include "metrics/metrics_registry.hpp"
#include "saga_test_support.hpp"

namespace fs::test {
namespace {

using namespace std::chrono_literals;
using payments::testing::simulator;

// The sum of flashsale_event_consumer_lag over the group's partitions (-1: not exported).
double saga_lag(const std::string& metrics_text) {
  std::istringstream in(metrics_text);
  double sum = -1;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("flashsale_event_consumer_lag{", 0) != 0) continue;
    if (line.find("group=\"saga\"") == std::string::npos) continue;
    sum = (sum < 0 ? 0 : sum) + std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

TEST(SagaLag, WorkersDownPaymentsQueuePastTheTtlLagShowsNoneExpiredTwoWorkersPayAll) {
  ServiceUnderTest svc(shared_redis().port(), fresh_database(shared_postgres()));
  const auto product = unique_name("p");
  ASSERT_EQ(send_one(svc.port(), {"PUT",
                                  "/v1/admin/products/" + product,
                                  admin_token(),
                                  product_body(20, 2, 1, R"(,"reservation_ttl_seconds":2)"),
                                  {}})
                .status,
            200);

  const std::string prefix = unique_name("lag") + ":";
  app::EventWorkersConfig ec;
  ec.roles = {"relay"};
  ec.redis_port = shared_redis().port();
  ec.pg_conninfo = svc.pg_conninfo();
  ec.streams.key_prefix = prefix;
  ec.relay.poll_interval = 10ms;
  ec.lag_interval = 200ms;
  app::EventWorkers relay(ec);
  relay.start();

  auto sweeper_cfg = workers_config(svc, simulator().port());
  sweeper_cfg.roles = {"sweeper"};
  app::BackgroundWorkers sweeper(sweeper_cfg);  // every 200 ms, throughout
  sweeper.start();

  auto wc = workers_config(svc, simulator().port());
  wc.roles = {"saga"};
  wc.poll_intake = false;  // the intake is the event log
  wc.stale_paying_after = 60s;
  wc.saga_concurrency = 4;
  wc.event_log = app::redis_streams_event_log(wc, prefix);

  const auto status = [&](const std::string& id) {
    return svc.sql("SELECT status FROM reservations WHERE reservation_id = '" + id + "'");
  };
  const auto buy = [&](const std::string& user) {
    auto r = send_one(
        svc.port(), {"POST", "/v1/reservations", user_token(user), reservation_body(product), {}});
    EXPECT_EQ(r.status, 201) << r.body;
    const auto id = field(r.body, "reservation_id");
    auto pay = send_one(svc.port(), {"POST",
                                     "/v1/reservations/" + id + "/pay",
                                     user_token(user),
                                     pay_body("pm_card_visa"),
                                     {}});
    EXPECT_EQ(pay.status, 202) << pay.body;
    return id;
  };

  // A worker ran (the group exists and is at the end of the stream), then went down.
  {
    app::BackgroundWorkers first(wc);
    first.start();
    const auto id = buy(unique_name("u"));
    ASSERT_TRUE(wait_until([&] { return status(id) == "PAID"; }, 20s, 50ms));
    first.stop();
  }

  // Shoppers pay while no saga worker runs: their payment.requested events queue.
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(buy(unique_name("u")));
  // The lag shows in the metrics...
  ASSERT_TRUE(wait_until([&] { return saga_lag(relay.registry().serialize()) >= 12; }, 20s, 50ms))
      << saga_lag(relay.registry().serialize());
  // ...and the reservations outlive their 2 s TTL under a running sweeper: PAYING, not EXPIRED.
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(svc.sql("SELECT count(*) FROM reservations WHERE product_id = '" + product +
                    "' AND status = 'PAYING' AND expires_at < now()"),
            "12");
  EXPECT_EQ(svc.sql("SELECT count(*) FROM reservations WHERE status = 'EXPIRED'"), "0");
  EXPECT_GE(saga_lag(relay.registry().serialize()), 12);

  // Workers scale up: two of them drain the queue.
  app::BackgroundWorkers w1(wc), w2(wc);
  w1.start();
  w2.start();
  ASSERT_TRUE(wait_until(
      [&] {
        return svc.sql("SELECT count(*) FROM reservations WHERE product_id = '" + product +
                       "' AND status = 'PAID'") == "13";
      },
      30s, 50ms))
      << svc.sql("SELECT string_agg(status, ',') FROM reservations");
  EXPECT_TRUE(wait_until([&] { return saga_lag(relay.registry().serialize()) == 0; }, 10s, 50ms));
  w2.stop();
  w1.stop();
  sweeper.stop();
  relay.stop();
  EXPECT_EQ(svc.sql("SELECT count(*) FROM reservations WHERE status = 'EXPIRED'"), "0");
  for (const auto& id : ids) {
    std::size_t charged = 0;
    for (const auto& c : simulator().sim().ledger("res_" + id))
      if (c.status == "succeeded") ++charged;
    EXPECT_EQ(charged, 1u) << id;
  }
  auto st = svc.stats(product);
  EXPECT_EQ(st.paid, 13);
  EXPECT_EQ(st.available + st.pending + st.paying + st.paid, st.stock_total);
}

}  // namespace
}  // namespace fs::test
