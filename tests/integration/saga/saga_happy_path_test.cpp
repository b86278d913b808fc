// The happy path as one test, every part real and wired as `flashsale up` wires it:
// the service, the outbox relay and the notifier (EventWorkers, e-mail to an aiosmtpd SMTP
// server), the saga taking payment.requested from the event log, and the payment simulator.
// A shopper reserves and pays; the reservation ends PAID with an order, the simulator's ledger
// holds exactly one charge for its key, her SSE stream receives her events in order, and the
// SMTP server receives her e-mails.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "../notifications/sse_client.hpp"
#include "app/event_workers.hpp"
#include "saga_test_support.hpp"
#include "support/smtp_server.hpp"

namespace fs::test {
namespace {

using namespace std::chrono_literals;
using payments::testing::simulator;

std::vector<std::string> types_of(const std::vector<SseEvent>& es) {
  std::vector<std::string> out;
  for (const auto& e : es) out.push_back(e.type);
  return out;
}

TEST(SagaHappyPath, ReservePayPaidOneChargeEventsInOrderAndEmail) {
  SmtpServer smtp;
  ServiceUnderTest svc(shared_redis().port(), fresh_database(shared_postgres()));
  const auto product = unique_name("p");
  svc.put_product(product, 3, 2, 1);

  // The event roles (relay, notifier with e-mail) and the saga, on one private set of streams.
  const std::string prefix = unique_name("happy") + ":";
  app::EventWorkersConfig ec;
  ec.redis_port = shared_redis().port();
  ec.pg_conninfo = svc.pg_conninfo();
  ec.streams.key_prefix = prefix;
  ec.relay.poll_interval = 10ms;
  ec.consumer_block = 200ms;
  ec.smtp.url = smtp.url();
  ec.smtp.from = "shop@flashsale.test";
  app::EventWorkers events(ec);
  events.start();

  auto wc = workers_config(svc, simulator().port());
  wc.roles = {"saga"};
  wc.poll_intake = false;  // the intake is the event log; the scan is only the safety net
  wc.stale_paying_after = 60s;
  wc.event_log = app::redis_streams_event_log(wc, prefix);

  app::BackgroundWorkers saga(wc);
  saga.start();

  const auto user = unique_name("shopper");
  SseClient stream(svc.port(), user_token(user));
  ASSERT_EQ(stream.status(), 200) << stream.raw();

  // Reserve ("Buy Now"), then pay.
  auto created = send_one(
      svc.port(), {"POST", "/v1/reservations", user_token(user), reservation_body(product), {}});
  ASSERT_EQ(created.status, 201) << created.body;
  const auto id = field(created.body, "reservation_id");
  EXPECT_EQ(field(created.body, "status"), "PENDING");
  auto pay = send_one(
      svc.port(),
      {"POST", "/v1/reservations/" + id + "/pay", user_token(user), pay_body("pm_card_visa"), {}});
  ASSERT_EQ(pay.status, 202) << pay.body;
  EXPECT_EQ(field(pay.body, "status"), "PAYING");

  // PAID with an order.
  ASSERT_TRUE(wait_until(
      [&] {
        return svc.sql("SELECT status FROM reservations WHERE reservation_id = '" + id + "'") ==
               "PAID";
      },
      20s, 50ms));
  auto view = send_one(svc.port(), {"GET", "/v1/reservations/" + id, user_token(user), "", {}});
  ASSERT_EQ(view.status, 200) << view.body;
  EXPECT_EQ(field(view.body, "status"), "PAID");
  const auto order_id = field(view.body, "order_id");
  const auto payment_id = field(view.body, "payment_id");
  ASSERT_FALSE(order_id.empty()) << view.body;
  auto order = send_one(svc.port(), {"GET", "/v1/orders/" + order_id, user_token(user), "", {}});
  ASSERT_EQ(order.status, 200) << order.body;
  EXPECT_EQ(field(order.body, "status"), "CONFIRMED");
  EXPECT_EQ(field(order.body, "reservation_id"), id);
  EXPECT_EQ(field(order.body, "payment_id"), payment_id);

  // Exactly one charge for the reservation's key in the simulator's ledger: the one recorded.
  const auto charges = simulator().sim().ledger("res_" + id);
  ASSERT_EQ(charges.size(), 1u);
  EXPECT_EQ(charges[0].status, "succeeded");
  EXPECT_FALSE(charges[0].refunded);
  EXPECT_EQ(charges[0].payment_intent, payment_id);

  // Her SSE stream: her user-facing events, in the order they happened, each once.
  auto got = stream.wait_events(3, 20s);
  ASSERT_EQ(got.size(), 3u) << stream.raw();
  EXPECT_EQ(types_of(got), (std::vector<std::string>{"reservation.created", "payment.succeeded",
                                                     "order.confirmed"}));
  for (const auto& e : got) {
    auto data = boost::json::parse(e.data).as_object();
    EXPECT_EQ(data.at("user_id").as_string(), user) << e.data;
    EXPECT_EQ(data.at("reservation_id").as_string(), id) << e.data;
  }
  EXPECT_EQ(boost::json::parse(got[2].data).as_object().at("order_id").as_string(), order_id);
  EXPECT_EQ(stream.wait_events(4, 500ms).size(), 3u) << "nothing repeated or extra";

  // The SMTP server received one e-mail per event, to her.
  ASSERT_TRUE(wait_until([&] { return smtp.mails().size() >= 3; }, 20s, 50ms))
      << smtp.mails().size();
  std::multiset<std::string> subjects;
  for (const auto& m : smtp.mails()) {
    EXPECT_EQ(m.rcpt, user + "@users.flashsale.test");
    EXPECT_NE(m.body.find(id), std::string::npos) << m.body;
    subjects.insert(m.subject);
  }
  EXPECT_EQ(subjects, (std::multiset<std::string>{"Reservation received (reservation " + id + ")",
                                                  "Payment received (reservation " + id + ")",
                                                  "Order confirmed (reservation " + id + ")"}));

  saga.stop();
  events.stop();
  auto st = svc.stats(product);
  EXPECT_EQ(st.paid, 1);
  EXPECT_EQ(st.available, 2);
  EXPECT_EQ(st.available + st.pending + st.paying + st.paid, st.stock_total);
}

}  // namespace
}  // namespace fs::test
