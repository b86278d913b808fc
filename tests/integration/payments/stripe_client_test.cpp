// StripeClient against the in-process simulator: outcomes, idempotency, faults and races.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/detached.hpp>
#include <boost/json.hpp>
#include <set>
#include <vector>

#include "http/client.hpp"
#include "payments_test_support.hpp"

namespace fs::payments::testing {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

StripeClientConfig with_fault(std::uint16_t port, std::string fault,
                              std::chrono::milliseconds timeout = 5s) {
  StripeClientConfig c = client_config(port, timeout);
  c.extra_headers.push_back(http::Header{"X-Sim-Fault", std::move(fault)});
  return c;
}

TEST(StripeClient, VisaAndMastercardSucceed) {
  auto port = simulator().port();
  for (const char* method : {"pm_card_visa", "pm_card_mastercard"}) {
    auto pi = pay(client_config(port), payment(unique_key("ok"), method, 2500));
    ASSERT_TRUE(pi) << pi.error().message;
    EXPECT_EQ(pi->status, "succeeded");
    EXPECT_EQ(pi->amount, 2500);
    EXPECT_EQ(pi->currency, "usd");
    EXPECT_FALSE(pi->declined);
    EXPECT_FALSE(pi->replayed);
    EXPECT_EQ(pi->id.rfind("pi_", 0), 0u) << pi->id;

    std::string id = pi->id;
    auto again = with_client(client_config(port),
                             [&](StripeClient& c) { return c.retrieve_payment_intent(id); });
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(again->id, pi->id);
    EXPECT_EQ(again->status, "succeeded");
  }
}

TEST(StripeClient, DeclinesAreOutcomesWithTheirCode) {
  auto port = simulator().port();
  const std::string declined_key = unique_key("declined");
  auto declined = pay(client_config(port), payment(declined_key, "pm_card_chargeDeclined"));
  ASSERT_TRUE(declined) << declined.error().message;
  EXPECT_TRUE(declined->declined);
  EXPECT_EQ(declined->decline_code, "card_declined");
  EXPECT_EQ(declined->status, "requires_payment_method");
  EXPECT_FALSE(declined->id.empty());

  auto poor = pay(client_config(port),
                  payment(unique_key("poor"), "pm_card_chargeDeclinedInsufficientFunds"));
  ASSERT_TRUE(poor) << poor.error().message;
  EXPECT_TRUE(poor->declined);
  EXPECT_EQ(poor->decline_code, "insufficient_funds");

  auto ledger = simulator().sim().ledger(declined_key);
  ASSERT_EQ(ledger.size(), 1u);
  EXPECT_EQ(ledger[0].status, "failed");
}

TEST(StripeClient, UnknownPaymentMethodAndBadKeyAreErrors) {
  auto port = simulator().port();
  auto unknown = pay(client_config(port), payment(unique_key("unknown"), "pm_card_bogus"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.code(), Errc::invalid_request);

  auto config = client_config(port);
  config.secret_key = "sk_live_nope";
  auto denied = pay(config, payment(unique_key("denied")));
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.code(), Errc::unauthorized);
}

TEST(StripeClient, SameKeySameParamsReplaysTheFirstResult) {
  auto port = simulator().port();
  const std::string key = unique_key("replay");
  auto first = pay(client_config(port), payment(key));
  auto second = pay(client_config(port), payment(key));
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->id, first->id);
  EXPECT_FALSE(first->replayed);
  EXPECT_TRUE(second->replayed);
  EXPECT_EQ(simulator().sim().ledger(key).size(), 1u);
}

TEST(StripeClient, SameKeyOtherParamsIsAnIdempotencyConflict) {
  auto port = simulator().port();
  const std::string key = unique_key("conflict");
  auto first = pay(client_config(port), payment(key, "pm_card_visa", 1000));
  ASSERT_TRUE(first) << first.error().message;
  auto other = pay(client_config(port), payment(key, "pm_card_visa", 2000));
  ASSERT_FALSE(other);
  EXPECT_EQ(other.code(), Errc::idempotency_conflict);
  EXPECT_EQ(simulator().sim().ledger(key).size(), 1u);
}

TEST(StripeClient, DroppedAfterChargeThenRetryChargesOnce) {
  auto port = simulator().port();
  const std::string key = unique_key("drop");
  auto lost = pay(with_fault(port, "drop_after_charge", 300ms), payment(key));
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.code(), Errc::timeout);
  auto charged = simulator().sim().ledger(key);
  ASSERT_EQ(charged.size(), 1u);

  auto retry = pay(client_config(port), payment(key));
  ASSERT_TRUE(retry) << retry.error().message;
  EXPECT_EQ(retry->status, "succeeded");
  EXPECT_TRUE(retry->replayed);
  EXPECT_EQ(retry->id, charged[0].payment_intent);
  EXPECT_EQ(simulator().sim().ledger(key).size(), 1u);
}

TEST(StripeClient, ServerErrorThenRetryChargesOnce) {
  auto port = simulator().port();
  const std::string key = unique_key("5xx");
  auto failed = pay(with_fault(port, "5xx"), payment(key));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.code(), Errc::unavailable);
  EXPECT_TRUE(simulator().sim().ledger(key).empty());

  auto retry = pay(client_config(port), payment(key));
  ASSERT_TRUE(retry) << retry.error().message;
  EXPECT_EQ(retry->status, "succeeded");
  EXPECT_FALSE(retry->replayed);
  EXPECT_EQ(simulator().sim().ledger(key).size(), 1u);
}

TEST(StripeClient, TimeoutIsReportedWithinTheClientTimeout) {
  auto port = simulator().port();
  const std::string key = unique_key("timeout");
  auto started = std::chrono::steady_clock::now();
  auto result = pay(with_fault(port, "timeout", 400ms), payment(key));
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(result);
  EXPECT_EQ(result.code(), Errc::timeout);
  EXPECT_GE(took, 400ms);
  EXPECT_LT(took, 1500ms);
  EXPECT_TRUE(simulator().sim().ledger(key).empty());
}

TEST(StripeClient, RefundMarksTheChargeRefundedOnce) {
  auto port = simulator().port();
  const std::string key = unique_key("refund");
  auto pi = pay(client_config(port), payment(key));
  ASSERT_TRUE(pi) << pi.error().message;
  std::string id = pi->id;
  auto refund = with_client(client_config(port),
                            [&](StripeClient& c) { return c.refund(id, key + "-refund"); });
  ASSERT_TRUE(refund) << refund.error().message;
  EXPECT_EQ(refund->status, "succeeded");
  EXPECT_EQ(refund->payment_intent, id);
  EXPECT_EQ(refund->amount, 1999);
  auto ledger = simulator().sim().ledger(key);
  ASSERT_EQ(ledger.size(), 1u);
  EXPECT_TRUE(ledger[0].refunded);

  auto replay = with_client(client_config(port),
                            [&](StripeClient& c) { return c.refund(id, key + "-refund"); });
  ASSERT_TRUE(replay) << replay.error().message;
  EXPECT_TRUE(replay->replayed);
  EXPECT_EQ(replay->id, refund->id);
  auto twice = with_client(client_config(port),
                           [&](StripeClient& c) { return c.refund(id, key + "-refund-again"); });
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.code(), Errc::invalid_request);
  auto missing = with_client(client_config(port), [&](StripeClient& c) {
    return c.refund("pi_missing", key + "-missing");
  });
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.code(), Errc::not_found);
}

// Runs `n` payments at once, each on its own client, on one io_context.
std::vector<Result<PaymentIntent>> pay_concurrently(std::uint16_t port,
                                                    std::vector<PaymentRequest> requests) {
  asio::io_context ctx;
  std::vector<Result<PaymentIntent>> results(requests.size());
  std::vector<std::unique_ptr<StripeClient>> clients;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    clients.push_back(std::make_unique<StripeClient>(ctx.get_executor(), client_config(port)));
    asio::co_spawn(
        ctx,
        [&, i]() -> asio::awaitable<void> {
          PaymentRequest request = std::move(requests[i]);
          results[i] = co_await clients[i]->create_payment_intent(std::move(request));
        },
        asio::detached);
  }
  ctx.run();
  return results;
}

TEST(StripeClient, HundredConcurrentPaymentsWithDistinctKeysChargeHundredTimes) {
  auto port = simulator().port();
  const std::string prefix = unique_key("crowd");
  std::vector<PaymentRequest> requests;
  for (int i = 0; i < 100; ++i) requests.push_back(payment(prefix + "-" + std::to_string(i)));
  auto results = pay_concurrently(port, std::move(requests));
  std::set<std::string> ids;
  for (const auto& r : results) {
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, "succeeded");
    ids.insert(r->id);
  }
  EXPECT_EQ(ids.size(), 100u);
  auto all = simulator().sim().ledger();
  auto mine = std::count_if(all.begin(), all.end(), [&](const payments_sim::LedgerCharge& c) {
    return c.idempotency_key.rfind(prefix + "-", 0) == 0;
  });
  EXPECT_EQ(mine, 100);
}

TEST(StripeClient, FiftyConcurrentPaymentsWithOneKeyChargeOnce) {
  // Latency keeps the first request in flight while the others arrive, so the race is real.
  auto options = instant_options();
  options.latency_min = 20ms;
  options.latency_max = 60ms;
  SimulatorFixture slow(options);
  const std::string key = unique_key("same");
  std::vector<PaymentRequest> requests;
  for (int i = 0; i < 50; ++i) requests.push_back(payment(key));
  auto results = pay_concurrently(slow.port(), std::move(requests));
  std::set<std::string> ids;
  int in_use = 0;
  for (const auto& r : results) {
    if (r) {
      EXPECT_EQ(r->status, "succeeded");
      ids.insert(r->id);
    } else {
      EXPECT_EQ(r.code(), Errc::unavailable) << r.error().message;
      ++in_use;
    }
  }
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_GT(in_use, 0);  // the key was seen in flight: Stripe's 409
  ASSERT_EQ(slow.sim().ledger(key).size(), 1u);
  EXPECT_EQ(slow.sim().ledger(key)[0].payment_intent, *ids.begin());
}

TEST(PaymentSimulator, LedgerEndpointAndLegacyCharges) {
  auto port = simulator().port();
  const std::string key = unique_key("legacy");
  asio::io_context ctx;
  std::optional<Result<http::ClientResponse>> charge, ledger;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        auto conn = http::make_connection(ctx.get_executor(),
                                          http::ConnectionConfig{"127.0.0.1", port, 5s});
        std::vector<http::Header> headers;
        headers.push_back(http::Header{"Authorization", "Bearer sk_test_123"});
        headers.push_back(http::Header{"Idempotency-Key", key});
        headers.push_back(http::Header{"Content-Type", "application/x-www-form-urlencoded"});
        http::ClientRequest post("POST", "/v1/charges", std::move(headers),
                                 "amount=500&currency=eur&source=tok_visa");
        charge = co_await conn->send(std::move(post));
        http::ClientRequest get("GET", "/_sim/ledger?key=" + key);
        ledger = co_await conn->send(std::move(get));
      },
      asio::detached);
  ctx.run();
  ASSERT_TRUE(charge && *charge) << (charge ? (*charge).error().message : "no reply");
  EXPECT_EQ((*charge)->status, 200);
  auto body = boost::json::parse((*charge)->body).as_object();
  EXPECT_EQ(body.at("object").as_string(), "charge");
  EXPECT_EQ(body.at("status").as_string(), "succeeded");

  ASSERT_TRUE(ledger && *ledger);
  EXPECT_EQ((*ledger)->status, 200);
  auto rows = boost::json::parse((*ledger)->body).as_array();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("idempotency_key").as_string(), key);
  EXPECT_EQ(rows[0].at("amount").as_int64(), 500);
  EXPECT_EQ(rows[0].at("currency").as_string(), "eur");
  EXPECT_EQ(rows[0].at("payment_method").as_string(), "tok_visa");
  EXPECT_EQ(rows[0].at("refunded").as_bool(), false);
  EXPECT_EQ(rows[0].at("id").as_string(), body.at("id").as_string());
}

}  // namespace
}  // namespace fs::payments::testing
