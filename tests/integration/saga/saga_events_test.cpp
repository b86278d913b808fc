// The saga's event-log intake: payment.requested consumed by group "saga" through
// events::ConsumerLoop on Redis Streams (the outbox relay is stood in for by publishing the
// outbox row by hand).
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "events/redis_streams_event_log.hpp"
#include "redis/redis_client_impl.hpp"
#include "saga_test_support.hpp"
#include "support/run_coroutine.hpp"

namespace fs::test {
namespace {

using payments::testing::simulator;

TEST(SagaEvents, PaymentRequestedFromTheEventLogEndsPaidOnceEvenWhenDuplicated) {
  ServiceUnderTest svc(shared_redis().port(), fresh_database(shared_postgres()));
  const auto product = unique_name("p");
  ASSERT_EQ(
      send_one(svc.port(),
               {"PUT", "/v1/admin/products/" + product, admin_token(), product_body(3, 2, 1), {}})
          .status,
      200);
  auto c = workers_config(svc, simulator().port());
  c.roles = {"saga"};
  c.poll_intake = false;  // only the event log brings work (the scan waits a minute)
  c.stale_paying_after = std::chrono::minutes{1};
  c.saga_concurrency = 2;
  c.event_log = app::redis_streams_event_log(c);
  app::BackgroundWorkers workers(c);
  workers.start();

  const auto user = unique_name("u");
  auto created = send_one(
      svc.port(), {"POST", "/v1/reservations", user_token(user), reservation_body(product), {}});
  ASSERT_EQ(created.status, 201);
  const auto id = field(created.body, "reservation_id");
  ASSERT_EQ(send_one(svc.port(), {"POST",
                                  "/v1/reservations/" + id + "/pay",
                                  user_token(user),
                                  pay_body("pm_card_visa"),
                                  {}})
                .status,
            202);
  const auto payload = svc.sql("SELECT payload FROM outbox WHERE event_key = '" + id +
                               "' AND event_type = 'payment.requested'");
  ASSERT_FALSE(payload.empty());

  boost::asio::io_context io;
  redis::ClientConfig rc;
  rc.port = shared_redis().port();
  auto client = redis::make_client(io.get_executor(), rc);
  events::StreamsConfig sc;
  sc.reader = rc;
  events::RedisStreamsEventLog log(io.get_executor(), *client, sc);
  EXPECT_EQ(svc.sql("SELECT topic FROM outbox WHERE event_key = '" + id +
                    "' AND event_type = 'payment.requested'"),
            "payments");
  // A user-facing event of the same reservation on topic reservations: not the saga's business.
  events::Event seen{events::types::reservation_created, id, payload};
  ASSERT_TRUE(run_coroutine(io, log.publish(events::topics::reservations, seen)).ok());
  events::Event ev{events::types::payment_requested, id, payload};
  events::Event bad{events::types::payment_requested, "not-a-reservation", "{}"};
  for (int i = 0; i < 3; ++i) {  // duplicates: at-least-once delivery
    auto r = run_coroutine(io, log.publish(events::topics::payments, ev));
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  ASSERT_TRUE(run_coroutine(io, log.publish(events::topics::payments, bad)).ok());

  EXPECT_TRUE(wait_until(
      [&] {
        return svc.sql("SELECT status FROM reservations WHERE reservation_id = '" + id + "'") ==
               "PAID";
      },
      std::chrono::seconds{20}, std::chrono::milliseconds{50}));
  std::size_t succeeded = 0;
  for (const auto& ch : simulator().sim().ledger("res_" + id))
    if (ch.status == "succeeded") ++succeeded;
  EXPECT_EQ(succeeded, 1u);
  // The malformed event was dead-lettered, not retried forever.
  EXPECT_TRUE(wait_until([&] {
    auto n = redis_cli(shared_redis().port(), {"EVAL",
                                               "local n = 0 for _, k in ipairs(redis.call('KEYS', "
                                               "'events:payments.dlq*')) do n = n + "
                                               "redis.call('XLEN', k) end return n",
                                               "0"});
    return n.ok() && *n != "0";
  }));
  // The saga's group reads topic payments only: no partition of topic reservations has it.
  auto saga_groups =
      redis_cli(shared_redis().port(),
                {"EVAL",
                 "local n = 0 for _, k in ipairs(redis.call('KEYS', 'events:reservations:*')) do "
                 "if redis.call('TYPE', k).ok == 'stream' then "
                 "for _, g in ipairs(redis.call('XINFO', 'GROUPS', k)) do "
                 "if g[2] == 'saga' then n = n + 1 end end end end return n",
                 "0"});
  ASSERT_TRUE(saga_groups.ok()) << saga_groups.error().message;
  EXPECT_EQ(*saga_groups, "0");
  workers.stop();
  client->close();
}

}  // namespace
}  // namespace fs::test
