#include "app/event_workers.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <future>
#include <stdexcept>
#include <thread>

#include "app/backends.hpp"
#include "events/consumer_loop.hpp"
#include "metrics/event_metrics.hpp"
#include "metrics/metrics_registry.hpp"
#include "metrics/notification_metrics.hpp"
#include "metrics/outbox_metrics.hpp"
#include "notifications/notification_feed.hpp"
#include "runtime/io_runtime.hpp"

namespace fs::app {
namespace asio = boost::asio;

namespace {

// Each role declares its metrics on the given registry; prometheus-cpp merges families of the
// same name, so several instances (and the service) share them.

// The outbox relay, plus the retention of the topics it feeds: every trim_interval it removes
// what every consumer group has acknowledged (RedisStreamsEventLog::trim_acknowledged); and
// every lag_interval it exports the lag of the known consumer groups (a group whose workers are
// all down has no member left to report its lag).
class RelayRole final : public Role {
 public:
  explicit RelayRole(RoleContext& c)
      : log_(c.log),
        trim_interval_(c.config.trim_interval),
        lag_interval_(c.config.lag_interval),
        lag_groups_(c.config.lag_groups),
        metrics_(c.registry),
        relay_(c.db, c.log, c.config.relay, &metrics_) {}
  asio::awaitable<void> run() override {
    asio::co_spawn(co_await asio::this_coro::executor, trim_loop(), asio::detached);
    co_await relay_.run();
    asio::steady_timer wait(co_await asio::this_coro::executor);
    while (!trim_done_) {  // the trim loop notices stop() within 200 ms
      wait.expires_after(std::chrono::milliseconds{20});
      co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
  void stop() override {
    stopping_ = true;
    relay_.stop();
  }

 private:
  asio::awaitable<void> trim_loop() {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    auto next = std::chrono::steady_clock::now() + trim_interval_;
    auto next_lag = std::chrono::steady_clock::now();
    while (!stopping_) {
      timer.expires_after(std::chrono::milliseconds{200});
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (stopping_) continue;
      if (lag_interval_.count() > 0 && std::chrono::steady_clock::now() >= next_lag) {
        next_lag = std::chrono::steady_clock::now() + lag_interval_;
        for (const auto& [topic, group] : lag_groups_) {
          auto lag = co_await log_.lag(topic, group);
          if (!lag) spdlog::warn("event log lag of {}: {}", group, lag.error().message);
        }
      }
      if (std::chrono::steady_clock::now() < next) continue;
      next = std::chrono::steady_clock::now() + trim_interval_;
      for (const char* topic : {events::topics::reservations, events::topics::payments}) {
        auto removed = co_await log_.trim_acknowledged(topic);
        if (!removed)
          spdlog::warn("event log trim of {} failed: {}", topic, removed.error().message);
      }
    }
    trim_done_ = true;
  }
  events::RedisStreamsEventLog& log_;
  std::chrono::milliseconds trim_interval_;
  std::chrono::milliseconds lag_interval_;
  std::vector<std::pair<std::string, std::string>> lag_groups_;
  bool stopping_ = false;
  bool trim_done_ = false;
  metrics::OutboxMetrics metrics_;
  events::OutboxRelay relay_;
};

class NotifierRole final : public Role {
 public:
  explicit NotifierRole(RoleContext& c)
      : notification_metrics_(c.registry),
        event_metrics_(c.registry),
        feed_(c.redis, notifications::FeedConfig{}),
        mailer_(c.config.smtp.url.empty()
                    ? nullptr
                    : std::make_unique<notifications::SmtpMailer>(c.config.smtp)),
        notifier_(feed_, mailer_.get(), c.config.notifier, &notification_metrics_),
        loop_(
            c.log, consumer_config(c),
            [this](const events::Delivery& d) { return notifier_.handle(d); }, &event_metrics_) {}
  asio::awaitable<void> run() override { co_await loop_.run(); }
  void stop() override { loop_.stop(); }

 private:
  static events::ConsumerConfig consumer_config(RoleContext& c) {
    events::ConsumerConfig cc;
    cc.topic = events::topics::reservations;
    cc.group = "notifier";
    cc.consumer = c.consumer;
    // A feed push is one Redis call: a batch's pushes go out pipelined (different reservations
    // side by side, one reservation's events in order).
    cc.batch = 64;
    cc.concurrency = 8;
    cc.block = c.config.consumer_block;
    cc.reclaim_idle = c.config.reclaim_idle;
    return cc;
  }
  metrics::NotificationMetrics notification_metrics_;
  metrics::EventMetrics event_metrics_;
  notifications::NotificationFeed feed_;
  std::unique_ptr<notifications::SmtpMailer> mailer_;
  notifications::Notifier notifier_;
  events::ConsumerLoop loop_;
};

}  // namespace

const std::map<std::string, RoleFactory>& event_roles() {
  static const std::map<std::string, RoleFactory> roles{
      {"relay",
       [](RoleContext& c) -> std::unique_ptr<Role> { return std::make_unique<RelayRole>(c); }},
      {"notifier",
       [](RoleContext& c) -> std::unique_ptr<Role> { return std::make_unique<NotifierRole>(c); }},
  };
  return roles;
}

std::vector<std::string> take_event_roles(std::string& list) {
  std::vector<std::string> taken;
  std::string rest;
  std::size_t start = 0;
  while (start <= list.size()) {
    auto comma = list.find(',', start);
    auto item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto b = item.find_first_not_of(" \t");
    auto e = item.find_last_not_of(" \t");
    if (b != std::string::npos) {
      item = item.substr(b, e - b + 1);
      if (event_roles().count(item)) {
        taken.push_back(item);
      } else {
        if (!rest.empty()) rest += ',';
        rest += item;
      }
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  list = rest;
  return taken;
}

struct EventWorkers::Impl {
  struct Instance {
    std::unique_ptr<metrics::EventMetrics> metrics;
    std::unique_ptr<redis::Client> redis;
    std::unique_ptr<pg::Database> db;
    std::unique_ptr<events::RedisStreamsEventLog> log;
    std::unique_ptr<RoleContext> context;
    std::unique_ptr<Role> role;
    std::atomic<bool> finished{false};
  };

  Impl(EventWorkersConfig c, metrics::MetricsRegistry* r)
      : config(std::move(c)),
        own_registry(r ? nullptr : std::make_unique<metrics::MetricsRegistry>()),
        registry(r ? *r : *own_registry),
        runtime(config.roles.empty() ? 1 : config.roles.size(), "fs-events") {}

  EventWorkersConfig config;
  std::unique_ptr<metrics::MetricsRegistry> own_registry;
  metrics::MetricsRegistry& registry;
  IoRuntime runtime;
  std::vector<std::unique_ptr<Instance>> instances;
  bool started = false;
  bool stopped = false;
};

EventWorkers::EventWorkers(EventWorkersConfig config, metrics::MetricsRegistry* registry)
    : impl_(std::make_unique<Impl>(std::move(config), registry)) {}

EventWorkers::~EventWorkers() { stop(); }

metrics::MetricsRegistry& EventWorkers::registry() { return impl_->registry; }

void EventWorkers::start() {
  auto& d = *impl_;
  if (d.config.roles.empty()) return;
  if (d.config.pg_conninfo.empty()) throw std::runtime_error("a PostgreSQL connection is required");
  for (const auto& name : d.config.roles)
    if (!event_roles().count(name)) throw std::runtime_error("unknown worker role: " + name);
  std::string prefix = d.config.consumer_prefix;
  if (prefix.empty()) {
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    prefix = std::string(host) + "-" + std::to_string(getpid());
  }
  d.runtime.start();
  for (std::size_t i = 0; i < d.config.roles.size(); ++i) {
    auto& ctx = d.runtime.context(i);
    auto inst = std::make_unique<Impl::Instance>();
    Impl::Instance* raw = inst.get();
    const std::string name = d.config.roles[i];
    // Backends are created on their own thread (they are bound to it).
    std::promise<void> built;
    asio::post(ctx, [&, raw, name, i] {
      // The role's name on its thread ("fs-relay", "fs-notifier", ...: top -H, perf).
      pthread_setname_np(pthread_self(), ("fs-" + name).substr(0, 15).c_str());
      if (d.config.background_nice != 0 &&
          std::find(d.config.background_roles.begin(), d.config.background_roles.end(), name) !=
              d.config.background_roles.end()) {
        // Linux: a thread's nice value is its own (PRIO_PROCESS with the thread id).
        if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), d.config.background_nice) != 0)
          spdlog::warn("worker role {}: setpriority: {}", name, std::strerror(errno));
      }
      raw->redis = connect_redis(ctx.get_executor(), d.config.redis_host, d.config.redis_port,
                                 d.config.redis_sentinel, d.config.redis_timeout);
      raw->db = connect_postgres(ctx.get_executor(), d.config.pg_conninfo, d.config.pg_connections,
                                 d.config.pg_timeout);
      auto sc = d.config.streams;
      sc.reader.host = d.config.redis_host;
      sc.reader.port = d.config.redis_port;
      sc.reader.sentinel = d.config.redis_sentinel;
      raw->metrics = std::make_unique<metrics::EventMetrics>(d.registry);
      raw->log = std::make_unique<events::RedisStreamsEventLog>(ctx.get_executor(), *raw->redis, sc,
                                                                raw->metrics.get());
      raw->context = std::make_unique<RoleContext>(
          RoleContext{ctx, *raw->redis, *raw->db, *raw->log, d.registry, d.config,
                      prefix + "-" + name + "-" + std::to_string(i)});
      raw->role = event_roles().at(name)(*raw->context);
      asio::co_spawn(
          ctx,
          [raw]() -> asio::awaitable<void> {
            co_await raw->role->run();
            raw->finished = true;
          },
          asio::detached);
      built.set_value();
    });
    built.get_future().wait();
    spdlog::info("worker role {} started", name);
    d.instances.push_back(std::move(inst));
  }
  d.started = true;
}

void EventWorkers::stop() {
  auto& d = *impl_;
  if (d.stopped || !d.started) return;
  d.stopped = true;
  for (std::size_t i = 0; i < d.instances.size(); ++i) {
    auto* raw = d.instances[i].get();
    std::promise<void> asked;
    asio::post(d.runtime.context(i), [raw, &asked] {
      raw->role->stop();
      asked.set_value();
    });
    asked.get_future().wait();
  }
  // Loops return within their poll/block interval.
  for (auto& inst : d.instances)
    for (int i = 0; i < 1000 && !inst->finished.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
  for (std::size_t i = 0; i < d.instances.size(); ++i) {
    auto* raw = d.instances[i].get();
    std::promise<void> closed;
    asio::post(d.runtime.context(i), [raw, &closed] {
      raw->log->close();
      raw->redis->close();
      raw->db->close();
      closed.set_value();
    });
    closed.get_future().wait();
  }
  d.runtime.abort();
  for (std::size_t i = 0; i < d.instances.size(); ++i) {
    auto* raw = d.instances[i].get();
    raw->role.reset();
    raw->context.reset();
    raw->log.reset();
    raw->db.reset();
    raw->redis.reset();
  }
  d.instances.clear();
}

}  // namespace fs::app
