#pragma once
// The event-pipeline worker roles, beside the saga's (workers.hpp):
//   relay     the outbox relay (events::OutboxRelay): outbox rows -> the event log
//   notifier  consumer group "notifier" -> per-user feeds (SSE) and e-mail
//   (notifications::Notifier)
// They run inside `flashsale up` (the default) or in their own process (`flashsale worker --roles
// relay,notifier`), sharing only Redis and PostgreSQL with the service. Each role instance gets
// its own I/O thread and its own backend connections (a Redis client, a PostgreSQL pool, an event
// log). Registration point: event_roles() in event_workers.cpp maps a role name to a factory.
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "events/outbox_relay.hpp"
#include "events/redis_streams_event_log.hpp"
#include "notifications/notifier.hpp"
#include "notifications/smtp_mailer.hpp"

namespace boost::asio {
class io_context;
}
namespace fs::metrics {
class MetricsRegistry;
}
namespace fs::pg {
class Database;
}

namespace fs::app {

struct EventWorkersConfig {
  std::vector<std::string> roles{"relay", "notifier"};
  std::string redis_host = "127.0.0.1";
  std::uint16_t redis_port = 6379;
  redis::SentinelConfig redis_sentinel;  // when enabled, replaces redis_host:redis_port
  std::string pg_conninfo;
  std::size_t pg_connections = 2;
  std::chrono::milliseconds redis_timeout{1000};
  std::chrono::milliseconds pg_timeout{5000};
  std::string consumer_prefix;  // consumer names: <prefix>-<role>-<n>; default host-pid
  events::StreamsConfig streams;
  events::OutboxRelayConfig relay;
  notifications::SmtpConfig smtp;  // smtp.url empty: no e-mail
  notifications::NotifierConfig notifier;
  std::chrono::milliseconds consumer_block{1000};
  std::chrono::milliseconds reclaim_idle{30'000};
  // relay: how often acknowledged entries are trimmed from the topics
  std::chrono::milliseconds trim_interval{60'000};
  // relay: how often it exports the lag of these consumer groups, each on its topic
  // (flashsale_event_consumer_lag), so that a group's lag shows while none of its members runs
  std::chrono::milliseconds lag_interval{5'000};
  std::vector<std::pair<std::string, std::string>> lag_groups{
      // {topic, group}
      {events::topics::payments, "saga"},
      {events::topics::reservations, "notifier"}};
  // The nice value (setpriority, per thread) of the threads of the roles that nobody waits for
  // (the notifier): after a burst they catch up on their backlog with the CPU the request path
  // leaves, instead of taking half of it. 0 keeps the process's priority.
  int background_nice = 10;
  std::vector<std::string> background_roles{"notifier"};
};

// What a role gets: its thread's context and backends.
struct RoleContext {
  boost::asio::io_context& io;
  redis::Client& redis;
  pg::Database& db;
  events::RedisStreamsEventLog& log;
  metrics::MetricsRegistry& registry;
  const EventWorkersConfig& config;
  std::string consumer;  // a unique consumer name for this instance
};

class Role {
 public:
  virtual ~Role() = default;
  virtual boost::asio::awaitable<void> run() = 0;  // until stop()
  virtual void stop() = 0;                         // called on the role's thread
};

using RoleFactory = std::function<std::unique_ptr<Role>(RoleContext&)>;
const std::map<std::string, RoleFactory>& event_roles();

// Takes the event roles out of a comma-separated role list ("saga,relay,notifier" -> returns
// {"relay", "notifier"}, leaves "saga"), so the rest can go to the saga's parse_roles.
std::vector<std::string> take_event_roles(std::string& list);

class EventWorkers {
 public:
  // `registry`: where role metrics go (the service's, when in-process); null: a private one.
  explicit EventWorkers(EventWorkersConfig config, metrics::MetricsRegistry* registry = nullptr);
  ~EventWorkers();
  EventWorkers(const EventWorkers&) = delete;
  EventWorkers& operator=(const EventWorkers&) = delete;

  // Starts one thread per role (none when roles is empty). Throws std::runtime_error on start-up
  // failure.
  void start();
  // Stops every role, waits for their loops to end, closes the backends. Idempotent.
  void stop();
  metrics::MetricsRegistry& registry();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fs::app
