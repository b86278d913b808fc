#include "notifications/notifier.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "events/consumer_loop.hpp"
#include "metrics/notification_metrics.hpp"
#include "notifications/notification_feed.hpp"
#include "notifications/smtp_mailer.hpp"

namespace fs::notifications {
namespace asio = boost::asio;

struct Notifier::MailPool {
  explicit MailPool(std::size_t n) : pool(n ? n : 1) {}
  ~MailPool() {
    pool.stop();
    pool.join();
  }
  asio::thread_pool pool;
};

namespace {

asio::awaitable<Status> send_blocking(const SmtpMailer* mailer, Email email) {
  co_return mailer->send(email);
}

}  // namespace

bool is_user_facing(std::string_view type) {
  using namespace events::types;
  return type == reservation_created || type == payment_succeeded || type == payment_failed ||
         type == reservation_expired || type == order_confirmed;
}

std::string email_subject(std::string_view type, std::string_view key) {
  using namespace events::types;
  std::string what = "Update";
  if (type == reservation_created)
    what = "Reservation received";
  else if (type == payment_succeeded)
    what = "Payment received";
  else if (type == payment_failed)
    what = "Payment failed";
  else if (type == reservation_expired)
    what = "Reservation expired";
  else if (type == order_confirmed)
    what = "Order confirmed";
  return what + " (reservation " + std::string(key) + ")";
}

Notifier::Notifier(NotificationFeed& feed, const SmtpMailer* mailer, NotifierConfig config,
                   metrics::NotificationMetrics* metrics)
    : feed_(feed),
      mailer_(mailer),
      config_(std::move(config)),
      metrics_(metrics),
      pool_(mailer ? std::make_unique<MailPool>(config_.mail_threads) : nullptr) {}

Notifier::~Notifier() = default;

asio::awaitable<Status> Notifier::handle(const events::Delivery& d) {
  if (!is_user_facing(d.event.type)) co_return Status{};
  boost::system::error_code ec;
  auto v = boost::json::parse(d.event.payload, ec);
  const boost::json::object* o = !ec ? v.if_object() : nullptr;
  const boost::json::value* user = o ? o->if_contains("user_id") : nullptr;
  if (!user || !user->is_string() || user->as_string().empty())
    co_return events::poison("user-facing event without a user_id");
  const std::string user_id(user->as_string());

  auto pushed = co_await feed_.push(user_id, d.event.type, d.event.key, d.event.payload);
  if (!pushed) {
    if (metrics_) metrics_->sent("push", "error");
    co_return std::move(pushed).error();  // transient: retried
  }
  if (metrics_) metrics_->sent("push", pushed->empty() ? "duplicate" : "sent");

  if (!mailer_) co_return Status{};
  const std::string mark = "mailed:" + d.event.type + ":" + d.event.key;
  auto already = co_await feed_.marked(mark);
  if (!already) co_return std::move(already).error();
  if (*already) {
    if (metrics_) metrics_->sent("email", "duplicate");
    co_return Status{};
  }
  Email email;
  email.to = user_id + "@" + config_.email_domain;
  email.subject = email_subject(d.event.type, d.event.key);
  email.body = email.subject + "\n\n" + d.event.type + "\n" + d.event.payload + "\n";
  Status sent = co_await asio::co_spawn(
      pool_->pool.get_executor(), send_blocking(mailer_, std::move(email)), asio::use_awaitable);
  if (!sent) {
    if (metrics_) metrics_->sent("email", "error");
    if (sent.code() == Errc::invalid_request) co_return events::poison(sent.error().message);
    co_return sent;  // transient: retried with backoff, then redelivered
  }
  if (metrics_) metrics_->sent("email", "sent");
  (void)co_await feed_.mark(mark);
  co_return Status{};
}

}  // namespace fs::notifications
