// Stripe replies → the saga's error model.
#include <gtest/gtest.h>

#include "payments/stripe_client.hpp"

namespace fs::payments {
namespace {

TEST(StripeReply, SucceededIntent) {
  auto pi = interpret_payment_intent_reply(
      200,
      R"({"id":"pi_1","object":"payment_intent","status":"succeeded","amount":1999,"currency":"usd"})");
  ASSERT_TRUE(pi) << pi.error().message;
  EXPECT_EQ(pi->id, "pi_1");
  EXPECT_EQ(pi->status, "succeeded");
  EXPECT_EQ(pi->amount, 1999);
  EXPECT_EQ(pi->currency, "usd");
  EXPECT_FALSE(pi->declined);
}

TEST(StripeReply, CardDeclineIsAnOutcomeNotAnError) {
  auto pi = interpret_payment_intent_reply(
      402, R"({"error":{"type":"card_error","code":"card_declined","decline_code":"generic_decline",
               "payment_intent":{"id":"pi_2","status":"requires_payment_method","amount":5,"currency":"eur"}}})");
  ASSERT_TRUE(pi) << pi.error().message;
  EXPECT_TRUE(pi->declined);
  EXPECT_EQ(pi->decline_code, "card_declined");
  EXPECT_EQ(pi->error_code, "card_declined");
  EXPECT_EQ(pi->id, "pi_2");
  EXPECT_EQ(pi->status, "requires_payment_method");
}

TEST(StripeReply, InsufficientFundsInEitherShape) {
  // Real Stripe: code card_declined + decline_code insufficient_funds.
  auto stripe = interpret_payment_intent_reply(
      402,
      R"({"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds"}})");
  ASSERT_TRUE(stripe);
  EXPECT_TRUE(stripe->declined);
  EXPECT_EQ(stripe->decline_code, "insufficient_funds");
  EXPECT_EQ(stripe->status, "requires_payment_method");
  auto code_only = interpret_payment_intent_reply(
      402, R"({"error":{"type":"card_error","code":"insufficient_funds"}})");
  ASSERT_TRUE(code_only);
  EXPECT_EQ(code_only->decline_code, "insufficient_funds");
}

TEST(StripeReply, ErrorsMapOntoErrc) {
  auto code = [](int status, const char* body) {
    auto r = interpret_payment_intent_reply(status, body);
    return r ? Errc::internal : r.code();
  };
  EXPECT_EQ(code(400, R"({"error":{"type":"idempotency_error","message":"x"}})"),
            Errc::idempotency_conflict);
  EXPECT_EQ(code(400, R"({"error":{"type":"invalid_request_error","code":"resource_missing"}})"),
            Errc::invalid_request);
  EXPECT_EQ(
      code(409, R"({"error":{"type":"invalid_request_error","code":"idempotency_key_in_use"}})"),
      Errc::unavailable);
  EXPECT_EQ(code(401, R"({"error":{"type":"invalid_request_error"}})"), Errc::unauthorized);
  EXPECT_EQ(code(404, R"({"error":{"type":"invalid_request_error"}})"), Errc::not_found);
  EXPECT_EQ(code(500, R"({"error":{"type":"api_error"}})"), Errc::unavailable);
  EXPECT_EQ(code(502, "<html>bad gateway</html>"), Errc::unavailable);
  EXPECT_EQ(code(200, "not json"), Errc::protocol_error);
  EXPECT_EQ(code(200, R"({"object":"payment_intent"})"), Errc::protocol_error);
  EXPECT_EQ(code(402, R"({"error":{"type":"invalid_request_error"}})"), Errc::protocol_error);
}

TEST(StripeReply, Refund) {
  auto r = interpret_refund_reply(
      200,
      R"({"id":"re_1","object":"refund","amount":10,"payment_intent":"pi_1","status":"succeeded"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, "re_1");
  EXPECT_EQ(r->payment_intent, "pi_1");
  EXPECT_EQ(r->status, "succeeded");
  auto missing = interpret_refund_reply(404, R"({"error":{"type":"invalid_request_error"}})");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.code(), Errc::not_found);
}

}  // namespace
}  // namespace fs::payments
