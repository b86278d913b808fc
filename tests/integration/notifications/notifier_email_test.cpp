// The notifier against a real aiosmtpd SMTP server (python3-aiosmtpd, Mailbox handler writing a
// Maildir), real Redis and the real event log: every user-facing event becomes one push in the
// owner's feed and one e-mail to the owner; internal events and redeliveries add nothing; and a
// feed's size in Redis.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <map>
#include <sstream>

#include "events/consumer_loop.hpp"
#include "integration/events/events_test_env.hpp"
#include "metrics/notification_metrics.hpp"
#include "notifications/notification_feed.hpp"
#include "notifications/notifier.hpp"
#include "notifications/smtp_mailer.hpp"
#include "stack/local_servers.hpp"
#include "support/run_coroutine.hpp"
#include "support/scratch_dir.hpp"
#include "support/smtp_server.hpp"

namespace fs::notifications {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using asio::awaitable;
using test::run_coroutine;

using test::SmtpServer;

awaitable<void> publish(events::EventLog& log, std::string type, std::string key,
                        std::string payload) {
  events::Event e{std::move(type), std::move(key), std::move(payload)};
  auto id = co_await log.publish(events::topics::reservations, std::move(e));
  EXPECT_TRUE(id.ok());
}

std::string view(const std::string& id, const std::string& user) {
  return R"({"reservation_id":")" + id + R"(","user_id":")" + user + R"(","status":"PENDING"})";
}

TEST(Notifier, SendsOnePushAndOneEmailPerUserFacingEventToItsOwner) {
  SmtpServer smtp;
  metrics::MetricsRegistry registry;
  metrics::NotificationMetrics metrics(registry);
  test::LogOnThread t(test::streams_config(2));
  FeedConfig fc;
  fc.key_prefix = test::unique_name("notify") + ":";
  NotificationFeed feed(*t.client, fc);
  SmtpConfig sc;
  sc.url = "smtp://127.0.0.1:" + std::to_string(smtp.port());
  sc.from = "shop@flashsale.test";
  SmtpMailer mailer(sc);
  Notifier notifier(feed, &mailer, NotifierConfig{}, &metrics);
  events::ConsumerConfig cc;
  cc.group = "notifier";
  cc.consumer = "n1";
  cc.block = 100ms;
  events::ConsumerLoop loop(*t.log, cc,
                            [&](const events::Delivery& d) { return notifier.handle(d); });

  run_coroutine(t.io, [&]() -> awaitable<void> {
    co_await publish(*t.log, events::types::reservation_created, "r1", view("r1", "alice"));
    co_await publish(*t.log, events::types::payment_requested, "r1", view("r1", "alice"));
    co_await publish(*t.log, events::types::reservation_created, "r2", view("r2", "bob"));
    co_await publish(*t.log, events::types::order_confirmed, "r1", view("r1", "alice"));
    // A redelivered duplicate (the relay published it twice).
    co_await publish(*t.log, events::types::reservation_created, "r1", view("r1", "alice"));
  }());
  asio::co_spawn(t.io, loop.run(), asio::detached);
  ASSERT_TRUE(test::run_until(
      t.io, [&] { return loop.counts().acked == 5; }, 30s))
      << loop.counts().acked;
  loop.stop();
  EXPECT_EQ(loop.counts().dead_lettered, 0);

  auto mails = smtp.mails();
  ASSERT_EQ(mails.size(), 3u);
  std::multimap<std::string, std::string> by_rcpt;
  for (const auto& m : mails) {
    EXPECT_EQ(m.to, "<" + m.rcpt + ">");
    by_rcpt.emplace(m.rcpt, m.subject);
  }
  EXPECT_EQ(by_rcpt.count("alice@users.flashsale.test"), 2u);
  EXPECT_EQ(by_rcpt.count("bob@users.flashsale.test"), 1u);
  std::set<std::string> subjects;
  for (const auto& [r, s] : by_rcpt) subjects.insert(r + " " + s);
  EXPECT_TRUE(subjects.count("alice@users.flashsale.test Reservation received (reservation r1)"));
  EXPECT_TRUE(subjects.count("alice@users.flashsale.test Order confirmed (reservation r1)"));
  EXPECT_TRUE(subjects.count("bob@users.flashsale.test Reservation received (reservation r2)"));

  run_coroutine(t.io, [&]() -> awaitable<void> {
    auto alice = co_await feed.read("alice", "", 100);
    EXPECT_TRUE(alice.ok());
    EXPECT_EQ(alice->size(), 2u);
    EXPECT_EQ((*alice)[0].type, events::types::reservation_created);
    EXPECT_EQ((*alice)[1].type, events::types::order_confirmed);
    EXPECT_EQ((*alice)[1].data, view("r1", "alice"));
    auto bob = co_await feed.read("bob", "", 100);
    EXPECT_EQ(bob->size(), 1u);
  }());
  const auto text = registry.serialize();
  EXPECT_NE(text.find(R"(flashsale_notifications_total{channel="email",result="sent"} 3)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(flashsale_notifications_total{channel="push",result="duplicate"} 1)"),
            std::string::npos)
      << text;
}

// Every buyer gets a feed (a Redis stream) with their first notification: in a sale of a million
// buyers its size is the feed's memory. The local stack's Redis preallocates 1 kB stream nodes
// instead of Redis' default 4 kB (stack/redis_server.cpp): about 1.7 kB per one-entry feed
// instead of 4.7 kB.
TEST(NotificationFeed, AOneNotificationFeedTakesUnderTwoKilobytes) {
  test::LogOnThread t(test::streams_config(1));
  FeedConfig fc;
  fc.key_prefix = test::unique_name("notify") + ":";
  NotificationFeed feed(*t.client, fc);
  // A reservation.created payload of the usual size (~250 bytes).
  const std::string payload =
      R"({"reservation_id":"0f8fad5b-d9cb-469f-a165-70867728950e","user_id":"buyer-123456",)"
      R"("product_id":"phone-2026","quantity":1,"status":"PENDING","amount_cents":79900,)"
      R"("currency":"usd","expires_at":"2026-12-04T14:00:00Z","created_at":"2026-12-04T13:50:00Z"})";
  auto id = run_coroutine(t.io, feed.push("buyer-123456", events::types::reservation_created,
                                          "0f8fad5b-d9cb-469f-a165-70867728950e", payload));
  ASSERT_TRUE(id.ok()) << id.error().message;
  ASSERT_FALSE(id->empty());
  auto bytes = test::redis_cli(test::shared_redis().port(),
                               {"MEMORY", "USAGE", feed.stream_key("buyer-123456")});
  ASSERT_TRUE(bytes.ok());
  EXPECT_GT(std::stoll(*bytes), static_cast<long long>(payload.size()));
  EXPECT_LT(std::stoll(*bytes), 2048) << "MEMORY USAGE of a one-entry feed";
}

TEST(Notifier, AnUnreachableSmtpServerIsATransientErrorNotAPoison) {
  test::LogOnThread t(test::streams_config(1));
  FeedConfig fc;
  fc.key_prefix = test::unique_name("notify") + ":";
  NotificationFeed feed(*t.client, fc);
  SmtpConfig sc;
  sc.url = "smtp://127.0.0.1:" + std::to_string(stack::free_port());  // nobody listens
  sc.timeout = 2s;
  SmtpMailer mailer(sc);
  Notifier notifier(feed, &mailer, NotifierConfig{});
  events::Delivery d;
  d.event = {events::types::payment_failed, "r9", view("r9", "carol")};
  auto st = run_coroutine(t.io, notifier.handle(d));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Errc::unavailable);
  // The push went out already and is not repeated on the retry; the e-mail is retried.
  auto again = run_coroutine(t.io, notifier.handle(d));
  EXPECT_EQ(again.code(), Errc::unavailable);
  auto pushed = run_coroutine(t.io, feed.read("carol", "", 10));
  EXPECT_EQ(pushed->size(), 1u);
  // No user_id: poison.
  events::Delivery bad;
  bad.event = {events::types::payment_failed, "r10", R"({"reservation_id":"r10"})"};
  auto poison = run_coroutine(t.io, notifier.handle(bad));
  EXPECT_EQ(poison.code(), events::kPoison);
}

}  // namespace
}  // namespace fs::notifications
