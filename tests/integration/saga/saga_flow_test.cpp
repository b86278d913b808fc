// The payment saga end to end (issue 3): real redis-server, PostgreSQL and payment simulator.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "saga_test_support.hpp"

namespace fs::test {
namespace {

using payments::testing::simulator;

struct Sale {
  std::unique_ptr<ServiceUnderTest> svc;
  std::string product;
};

Sale new_sale(std::int64_t stock, int ttl_seconds = 600, int shards = 4) {
  Sale s;
  s.svc =
      std::make_unique<ServiceUnderTest>(shared_redis().port(), fresh_database(shared_postgres()));
  s.product = unique_name("p");
  auto r = send_one(s.svc->port(),
                    {"PUT",
                     "/v1/admin/products/" + s.product,
                     admin_token(),
                     product_body(stock, shards, 1,
                                  ",\"reservation_ttl_seconds\":" + std::to_string(ttl_seconds)),
                     {}});
  EXPECT_EQ(r.status, 200) << r.body;
  return s;
}

std::string reserve(const Sale& s, const std::string& user, const std::string& pm = "") {
  std::string body = reservation_body(s.product);
  if (!pm.empty()) body = body.substr(0, body.size() - 1) + R"(,"payment_method":")" + pm + "\"}";
  auto r = send_one(s.svc->port(), {"POST", "/v1/reservations", user_token(user), body, {}});
  EXPECT_EQ(r.status, 201) << r.body;
  return field(r.body, "reservation_id");
}

http::ClientResponse get(const Sale& s, const std::string& user, const std::string& target) {
  return send_one(s.svc->port(), {"GET", target, user_token(user), "", {}});
}

std::string status_of(const Sale& s, const std::string& id) {
  return s.svc->sql("SELECT status FROM reservations WHERE reservation_id = '" + id + "'");
}

bool await_status(const Sale& s, const std::string& id, const std::string& want,
                  std::chrono::milliseconds timeout = std::chrono::seconds{20}) {
  return wait_until([&] { return status_of(s, id) == want; }, timeout,
                    std::chrono::milliseconds{50});
}

std::size_t succeeded_charges(const std::string& reservation_id, bool count_refunded = true) {
  std::size_t n = 0;
  for (const auto& c : simulator().sim().ledger("res_" + reservation_id))
    if (c.status == "succeeded" && (count_refunded || !c.refunded)) ++n;
  return n;
}

void expect_conserved(const Sale& s) {
  auto st = s.svc->stats(s.product);
  EXPECT_EQ(st.available + st.pending + st.paying + st.paid, st.stock_total)
      << "available " << st.available << " pending " << st.pending << " paying " << st.paying
      << " paid " << st.paid;
}

TEST(SagaFlow, HappyPathPaysOnceAndConfirmsAnOrder) {
  auto s = new_sale(5);
  app::BackgroundWorkers workers(workers_config(*s.svc, simulator().port()));
  workers.start();
  const std::string user = unique_name("u");
  const auto id = reserve(s, user);
  auto pay = send_one(
      s.svc->port(),
      {"POST", "/v1/reservations/" + id + "/pay", user_token(user), pay_body("pm_card_visa"), {}});
  ASSERT_EQ(pay.status, 202) << pay.body;
  EXPECT_EQ(field(pay.body, "status"), "PAYING");
  ASSERT_TRUE(await_status(s, id, "PAID"));
  auto view = get(s, user, "/v1/reservations/" + id);
  ASSERT_EQ(view.status, 200);
  const auto order_id = field(view.body, "order_id");
  EXPECT_FALSE(order_id.empty()) << view.body;
  EXPECT_FALSE(field(view.body, "payment_id").empty()) << view.body;
  auto order = get(s, user, "/v1/orders/" + order_id);
  ASSERT_EQ(order.status, 200) << order.body;
  EXPECT_EQ(field(order.body, "status"), "CONFIRMED");
  EXPECT_EQ(field(order.body, "reservation_id"), id);
  EXPECT_EQ(field(order.body, "payment_id"), field(view.body, "payment_id"));
  EXPECT_EQ(get(s, unique_name("other"), "/v1/orders/" + order_id).status, 404);
  EXPECT_EQ(succeeded_charges(id), 1u);
  // A second /pay: no longer PENDING.
  auto again = send_one(
      s.svc->port(),
      {"POST", "/v1/reservations/" + id + "/pay", user_token(user), pay_body("pm_card_visa"), {}});
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(field(again.body, "error").find("invalid_state") != std::string::npos, true);
  // Another user's reservation is not found.
  EXPECT_EQ(send_one(s.svc->port(), {"POST",
                                     "/v1/reservations/" + id + "/pay",
                                     user_token(unique_name("x")),
                                     pay_body("pm_card_visa"),
                                     {}})
                .status,
            404);
  // The events were written with the transitions (outbox), in order.
  EXPECT_EQ(s.svc->sql("SELECT string_agg(event_type, ',' ORDER BY id) FROM outbox WHERE "
                       "event_key = '" +
                       id + "' AND event_type <> 'reservation.created'"),
            "payment.requested,payment.succeeded,order.confirmed");
  workers.stop();
  expect_conserved(s);
  auto st = s.svc->stats(s.product);
  EXPECT_EQ(st.paid, 1);
  EXPECT_EQ(st.available, 4);
}

TEST(SagaFlow, PayIsIdempotentWithAKey) {
  auto s = new_sale(5);
  const std::string user = unique_name("u");
  const auto id = reserve(s, user);
  std::vector<http::Header> h{{"Idempotency-Key", "pay-key-1"}};
  auto a = send_one(s.svc->port(), {"POST", "/v1/reservations/" + id + "/pay", user_token(user),
                                    pay_body("pm_card_visa"), h});
  auto b = send_one(s.svc->port(), {"POST", "/v1/reservations/" + id + "/pay", user_token(user),
                                    pay_body("pm_card_visa"), h});
  EXPECT_EQ(a.status, 202) << a.body;
  EXPECT_EQ(b.status, 202) << b.body;
  EXPECT_EQ(a.body, b.body);
}

TEST(SagaFlow, DeclinedCardFailsReturnsTheUnitAndTheUserMayReserveAgain) {
  auto s = new_sale(1);
  app::BackgroundWorkers workers(workers_config(*s.svc, simulator().port()));
  workers.start();
  const std::string user = unique_name("u");
  const auto id = reserve(s, user);
  auto pay = send_one(s.svc->port(), {"POST",
                                      "/v1/reservations/" + id + "/pay",
                                      user_token(user),
                                      pay_body("pm_card_chargeDeclined"),
                                      {}});
  ASSERT_EQ(pay.status, 202) << pay.body;
  ASSERT_TRUE(await_status(s, id, "FAILED"));
  EXPECT_EQ(field(get(s, user, "/v1/reservations/" + id).body, "failure_code"), "card_declined");
  ASSERT_TRUE(wait_until([&] { return s.svc->stats(s.product).available == 1; }));
  expect_conserved(s);
  EXPECT_EQ(succeeded_charges(id), 0u);
  EXPECT_EQ(s.svc->sql("SELECT stock_return_pending FROM reservations WHERE reservation_id = '" +
                       id + "'"),
            "f");
  // The unit and the user's allowance are back: the same user buys it again.
  const auto again = reserve(s, user);
  EXPECT_FALSE(again.empty());
  auto pay2 = send_one(s.svc->port(), {"POST",
                                       "/v1/reservations/" + again + "/pay",
                                       user_token(user),
                                       pay_body("pm_card_visa"),
                                       {}});
  ASSERT_EQ(pay2.status, 202) << pay2.body;
  ASSERT_TRUE(await_status(s, again, "PAID"));
  workers.stop();
  expect_conserved(s);
}

TEST(SagaFlow, ExpiryWithThreeSweepersReturnsEachUnitExactlyOnce) {
  auto s = new_sale(40, /*ttl_seconds=*/2);
  std::vector<std::string> ids, users;
  for (int i = 0; i < 30; ++i) {
    users.push_back(unique_name("u"));
    ids.push_back(reserve(s, users.back()));
  }
  EXPECT_EQ(s.svc->stats(s.product).available, 10);
  // All 30 are due before the sweepers start, so the three race for the same rows.
  ASSERT_TRUE(wait_until(
      [&] {
        return s.svc->sql("SELECT count(*) FROM reservations WHERE expires_at <= now()") == "30";
      },
      std::chrono::seconds{20}, std::chrono::milliseconds{100}));
  std::vector<std::unique_ptr<app::BackgroundWorkers>> sweepers;
  for (int i = 0; i < 3; ++i) {
    auto c = workers_config(*s.svc, simulator().port());
    c.roles = {"sweeper"};
    c.sweep_interval = std::chrono::milliseconds{50};
    c.sweep_batch = 7;  // several batches per pass, sweepers interleave
    sweepers.push_back(std::make_unique<app::BackgroundWorkers>(c));
  }
  for (auto& w : sweepers) w->start();
  ASSERT_TRUE(wait_until(
      [&] {
        return s.svc->sql(
                   "SELECT count(*) FROM reservations WHERE status = 'EXPIRED' "
                   "AND NOT stock_return_pending") == "30";
      },
      std::chrono::seconds{20}));
  for (auto& w : sweepers) w->stop();
  auto st = s.svc->stats(s.product);
  EXPECT_EQ(st.available, 40);  // a double return would show more than the stock
  EXPECT_EQ(st.expired, 30);
  expect_conserved(s);
  EXPECT_EQ(s.svc->sql("SELECT sum(allocated) FROM stock_shards s JOIN products p USING "
                       "(product_id, generation) WHERE product_id = '" +
                       s.product + "'"),
            "0");
  EXPECT_EQ(s.svc->sql("SELECT count(*) FROM outbox WHERE event_type = 'reservation.expired'"),
            "30");
  // An expired reservation cannot be paid; its user may reserve again.
  auto late = send_one(s.svc->port(), {"POST",
                                       "/v1/reservations/" + ids[0] + "/pay",
                                       user_token(users[0]),
                                       pay_body("pm_card_visa"),
                                       {}});
  EXPECT_EQ(late.status, 409);
  EXPECT_FALSE(reserve(s, users[0]).empty());
}

TEST(SagaFlow, PaymentRacingExpiryNeverBothAndChargedMeansPaid) {
  constexpr int kN = 500;
  auto s = new_sale(kN, /*ttl_seconds=*/12, /*shards=*/10);
  std::vector<Call> reserves;
  std::vector<std::string> users;
  for (int i = 0; i < kN; ++i) {
    users.push_back(unique_name("u"));
    reserves.push_back(
        {"POST", "/v1/reservations", user_token(users.back()), reservation_body(s.product), {}});
  }
  // Created in 10 waves 300 ms apart: the expiry instants spread over a few seconds, wider
  // than the pay burst below.
  std::vector<std::string> ids(kN);
  constexpr int kWave = kN / 10;
  for (int w = 0; w < 10; ++w) {
    std::vector<Call> wave(reserves.begin() + w * kWave, reserves.begin() + (w + 1) * kWave);
    auto created = race(s.svc->port(), wave, 16);
    for (int i = 0; i < kWave; ++i) {
      ASSERT_EQ(created[i].status, 201) << created[i].body;
      ids[w * kWave + i] = field(created[i].body, "reservation_id");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{300});
  }
  auto c = workers_config(*s.svc, simulator().port());
  c.sweep_interval = std::chrono::milliseconds{20};
  c.saga_concurrency = 8;
  app::BackgroundWorkers a(c), b(c);
  a.start();
  b.start();
  // The middle wave is paid first, from just before its own expiry instants, so its pays and
  // its expiries (the sweepers run every 20 ms) race at the boundary. Timed from the database,
  // whatever the speed of this build.
  const auto window = s.svc->sql(
      "SELECT (extract(epoch from min(e)) * 1000)::bigint || ' ' || "
      "(extract(epoch from max(e)) * 1000)::bigint || ' ' || "
      "(extract(epoch from percentile_disc(0.5) WITHIN GROUP (ORDER BY e)) * 1000)::bigint "
      "FROM (SELECT expires_at e FROM reservations ORDER BY expires_at OFFSET " +
      std::to_string(5 * kWave) + " LIMIT " + std::to_string(kWave) + ") t");
  std::istringstream fields(window);
  std::int64_t lo = 0, hi = 0, median = 0;
  fields >> lo >> hi >> median;
  std::vector<int> order;
  // Then the later waves (still PENDING: mostly paid), then the earlier ones (already due).
  for (int i = 5 * kWave; i < kN; ++i) order.push_back(i);
  for (int i = 0; i < 5 * kWave; ++i) order.push_back(i);
  std::vector<Call> pays;
  for (int i : order)
    pays.push_back({"POST",
                    "/v1/reservations/" + ids[i] + "/pay",
                    user_token(users[i]),
                    pay_body("pm_card_visa"),
                    {}});
  std::this_thread::sleep_until(
      std::chrono::system_clock::time_point{std::chrono::milliseconds{lo - 50}});
  const auto pay_start = std::chrono::system_clock::now();
  auto answers = race(s.svc->port(), pays, 32);
  std::cout
      << "middle wave expires in [" << lo << ", " << hi << "] ms; pays sent from "
      << std::chrono::duration_cast<std::chrono::milliseconds>(pay_start.time_since_epoch()).count()
      << " for "
      << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now() -
                                                               pay_start)
             .count()
      << " ms; first answer " << answers[0].status << " " << answers[0].body << "\n";
  std::vector<http::ClientResponse> paid(kN);
  for (std::size_t k = 0; k < order.size(); ++k) paid[order[k]] = std::move(answers[k]);
  int accepted = 0, refused = 0;
  for (auto& r : paid) {
    if (r.status == 202)
      ++accepted;
    else if (r.status == 409)
      ++refused;
    else
      ADD_FAILURE() << r.status << " " << r.body;
  }
  ASSERT_TRUE(wait_until(
      [&] {
        return s.svc->sql(
                   "SELECT count(*) FROM reservations WHERE status IN ('PENDING','PAYING') "
                   "OR stock_return_pending") == "0";
      },
      std::chrono::seconds{60}, std::chrono::milliseconds{100}));
  a.stop();
  b.stop();
  std::map<std::string, std::string> status;
  {
    auto rows = s.svc->sql("SELECT reservation_id || ' ' || status FROM reservations");
    std::size_t pos = 0;
    while (pos < rows.size()) {
      auto nl = rows.find('\n', pos);
      if (nl == std::string::npos) nl = rows.size();
      auto line = rows.substr(pos, nl - pos);
      status[line.substr(0, line.find(' '))] = line.substr(line.find(' ') + 1);
      pos = nl + 1;
    }
  }
  int n_paid = 0, n_expired = 0;
  for (int i = 0; i < kN; ++i) {
    const auto& st = status[ids[i]];
    const auto charges = succeeded_charges(ids[i], /*count_refunded=*/false);
    if (st == "PAID") {
      ++n_paid;
      EXPECT_EQ(charges, 1u) << ids[i];
      EXPECT_EQ(paid[i].status, 202);
    } else {
      EXPECT_EQ(st, "EXPIRED") << ids[i];
      ++n_expired;
      EXPECT_EQ(charges, 0u) << ids[i] << " charged but " << st;  // charged => PAID or refunded
    }
  }
  EXPECT_GT(accepted, 0);  // the race really happened: both outcomes occurred
  EXPECT_GT(refused, 0);
  EXPECT_EQ(n_paid, accepted);  // every accepted pay ended PAID, no refused one did
  EXPECT_EQ(n_expired, refused);
  EXPECT_EQ(s.svc->sql("SELECT count(*) FROM orders"), std::to_string(n_paid));
  expect_conserved(s);
  std::cout << "race: " << accepted << " paid, " << refused << " expired\n";
}

TEST(SagaFlow, SimulatorDroppingResponsesAfterChargingNeverChargesTwice) {
  auto opts = payments::testing::instant_options();
  opts.fault_drop_rate = 0.5;
  opts.hang_limit = std::chrono::milliseconds{1000};
  payments::testing::SimulatorFixture flaky(opts);
  auto s = new_sale(20);
  auto c = workers_config(*s.svc, flaky.port());
  c.payments_timeout = std::chrono::milliseconds{300};
  c.retry.give_up_after = std::chrono::milliseconds{20'000};
  app::BackgroundWorkers workers(c);
  workers.start();
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    const auto user = unique_name("u");
    ids.push_back(reserve(s, user, "pm_card_visa"));  // one-click
  }
  for (const auto& id : ids) ASSERT_TRUE(await_status(s, id, "PAID", std::chrono::seconds{60}));
  // Responses were dropped and the charges retried.
  const auto text = workers.metrics_text();
  EXPECT_EQ(text.find("flashsale_payment_retries_total 0\n"), std::string::npos) << text;
  workers.stop();
  std::size_t dropped = 0;
  for (const auto& id : ids) {
    auto ledger = flaky.sim().ledger("res_" + id);
    EXPECT_EQ(ledger.size(), 1u) << id;  // one charge per key, whatever the retries
    dropped += ledger.size();
  }
  EXPECT_EQ(dropped, 20u);
  expect_conserved(s);
}

TEST(SagaFlow, ThousandOneClickPurchasesWithTenPercentDeclinesAddUp) {
  constexpr int kN = 1000;
  auto s = new_sale(kN, 600, 10);
  auto c = workers_config(*s.svc, simulator().port());
  c.saga_concurrency = 16;
  app::BackgroundWorkers workers(c);
  workers.start();
  std::vector<Call> calls;
  int declines = 0;
  for (int i = 0; i < kN; ++i) {
    const bool decline = i % 10 == 0;
    declines += decline;
    std::string body = reservation_body(s.product);
    body = body.substr(0, body.size() - 1) + R"(,"payment_method":")" +
           (decline ? "pm_card_chargeDeclined" : "pm_card_visa") + "\"}";
    calls.push_back({"POST", "/v1/reservations", user_token(unique_name("u")), body, {}});
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto out = race(s.svc->port(), calls, 64);
  for (auto& r : out) ASSERT_EQ(r.status, 201) << r.body;
  std::cout << "1000 one-click reservations answered in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
            << " s\n";
  ASSERT_TRUE(wait_until(
      [&] {
        return s.svc->sql(
                   "SELECT count(*) FROM reservations WHERE status IN ('PENDING','PAYING') "
                   "OR stock_return_pending") == "0";
      },
      std::chrono::seconds{120}, std::chrono::milliseconds{100}));
  const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  workers.stop();
  auto st = s.svc->stats(s.product);
  EXPECT_EQ(st.paid + st.failed, kN);
  EXPECT_EQ(st.failed, declines);
  EXPECT_EQ(s.svc->sql("SELECT count(*) FROM orders"), std::to_string(st.paid));
  std::size_t charges = 0;
  for (auto& r : out) charges += succeeded_charges(field(r.body, "reservation_id"));
  EXPECT_EQ(static_cast<std::int64_t>(charges), st.paid);
  expect_conserved(s);
  EXPECT_EQ(st.available, declines);
  std::cout << "1000 one-click purchases settled in " << took << " s (" << kN / took
            << " per second, end to end)\n";
}

}  // namespace
}  // namespace fs::test
