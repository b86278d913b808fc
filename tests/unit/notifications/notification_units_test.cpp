// Pure pieces of notifications: SSE framing, Last-Event-ID validation, query values, e-mail
// formatting, subjects, the role list split.
#include <gtest/gtest.h>

#include "api/events_endpoint.hpp"
#include "app/event_workers.hpp"
#include "notifications/notification_feed.hpp"
#include "notifications/notifier.hpp"
#include "notifications/smtp_mailer.hpp"

namespace fs {
namespace {

TEST(SseFrame, HasIdEventAndOneDataLinePerLine) {
  EXPECT_EQ(api::sse_frame("1-0", "order.confirmed", R"({"a":1})"),
            "id: 1-0\nevent: order.confirmed\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(api::sse_frame("2-5", "t", "a\nb"), "id: 2-5\nevent: t\ndata: a\ndata: b\n\n");
}

TEST(QueryValue, FindsRawValues) {
  EXPECT_EQ(api::query_value("a=1&last_event_id=5-0&replay=1", "last_event_id"), "5-0");
  EXPECT_EQ(api::query_value("replay=1", "replay"), "1");
  EXPECT_EQ(api::query_value("replay", "replay"), "");
  EXPECT_EQ(api::query_value("", "x"), "");
  EXPECT_EQ(api::query_value("xx=1", "x"), "");
}

TEST(IsStreamId, AcceptsOnlyMsDashSeq) {
  EXPECT_TRUE(notifications::is_stream_id("1732449600123-0"));
  EXPECT_TRUE(notifications::is_stream_id("0-1"));
  EXPECT_FALSE(notifications::is_stream_id("not-an-id"));
  EXPECT_FALSE(notifications::is_stream_id("12-"));
  EXPECT_FALSE(notifications::is_stream_id("-1"));
  EXPECT_FALSE(notifications::is_stream_id("1-2-3"));
  EXPECT_FALSE(notifications::is_stream_id("1-0\r\nX: y"));
  EXPECT_FALSE(notifications::is_stream_id(std::string(60, '1') + "-0"));
}

TEST(EmailMessage, HeadersAndCrlfBody) {
  notifications::SmtpConfig c;
  c.from = "shop@flashsale.test";
  notifications::Email e{"alice@users.flashsale.test", "Order confirmed (reservation r1)",
                         "line one\nline two"};
  auto m = notifications::format_message(c, e, "Mon, 24 Nov 2026 12:00:00 +0000", "x@y");
  EXPECT_NE(m.find("From: <shop@flashsale.test>\r\n"), std::string::npos);
  EXPECT_NE(m.find("To: <alice@users.flashsale.test>\r\n"), std::string::npos);
  EXPECT_NE(m.find("Subject: Order confirmed (reservation r1)\r\n"), std::string::npos);
  EXPECT_NE(m.find("\r\n\r\nline one\r\nline two\r\n"), std::string::npos);
  // A header injection attempt is refused before any network I/O.
  notifications::SmtpMailer mailer(c);
  notifications::Email bad{"a@b\r\nBcc: x@y", "s", "b"};
  EXPECT_EQ(mailer.send(bad).code(), Errc::invalid_request);
}

TEST(Notifier, UserFacingTypesAndSubjects) {
  EXPECT_TRUE(notifications::is_user_facing("reservation.created"));
  EXPECT_TRUE(notifications::is_user_facing("order.confirmed"));
  EXPECT_FALSE(notifications::is_user_facing("payment.requested"));
  EXPECT_EQ(notifications::email_subject("payment.failed", "r1"),
            "Payment failed (reservation r1)");
}

TEST(EventRoles, TakenOutOfTheRoleList) {
  std::string list = "saga, relay,sweeper,notifier";
  auto taken = app::take_event_roles(list);
  EXPECT_EQ(taken, (std::vector<std::string>{"relay", "notifier"}));
  EXPECT_EQ(list, "saga,sweeper");
  std::string only = "relay";
  EXPECT_EQ(app::take_event_roles(only).size(), 1u);
  EXPECT_EQ(only, "");
}

}  // namespace
}  // namespace fs
