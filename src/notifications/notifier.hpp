#pragma once
// The notifier role (seed flow 12): the handler of consumer group "notifier" on the reservations
// topic. Every user-facing event (reservation.created, payment.succeeded, payment.failed,
// reservation.expired, order.confirmed) is pushed to the user's NotificationFeed (served as SSE
// by GET /v1/events) and, when an SMTP server is configured, sent as an e-mail to
// "<user_id>@<email_domain>" (there is no user directory: the JWT subject is the only identity).
// The e-mail goes out on the notifier's own mail threads (libcurl blocks), never on an I/O
// thread. Both are idempotent under redelivery: the push is deduplicated by (type, key), the
// e-mail is sent unless marked sent (a crash between sending and marking may send it twice).
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>

#include "common/result.hpp"
#include "events/event_log.hpp"

namespace fs::metrics {
class NotificationMetrics;
}

namespace fs::notifications {

class NotificationFeed;
class SmtpMailer;

struct NotifierConfig {
  std::string email_domain = "users.flashsale.test";
  std::size_t mail_threads = 2;
};

// True for the event types shoppers are told about.
bool is_user_facing(std::string_view type);
// The e-mail subject of a user-facing event type.
std::string email_subject(std::string_view type, std::string_view key);

class Notifier {
 public:
  // `feed` (per thread), `mailer` (null: no e-mail) and `metrics` (may be null) must outlive it.
  Notifier(NotificationFeed& feed, const SmtpMailer* mailer, NotifierConfig config,
           metrics::NotificationMetrics* metrics = nullptr);
  ~Notifier();

  // A DeliveryHandler for events::ConsumerLoop. Events that are not user-facing are skipped;
  // a user-facing event without a user_id in its payload is poison.
  boost::asio::awaitable<Status> handle(const events::Delivery& delivery);

 private:
  struct MailPool;
  NotificationFeed& feed_;
  const SmtpMailer* mailer_;
  NotifierConfig config_;
  metrics::NotificationMetrics* metrics_;
  std::unique_ptr<MailPool> pool_;
};

}  // namespace fs::notifications
