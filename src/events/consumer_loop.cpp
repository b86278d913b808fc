#include "events/consumer_loop.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "metrics/event_metrics.hpp"

namespace fs::events {
namespace asio = boost::asio;

namespace {

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

bool is_json_object(const std::string& text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  return !ec && v.is_object();
}

}  // namespace

bool is_known_type(std::string_view type) {
  for (const char* t : {types::reservation_created, types::payment_requested,
                        types::payment_succeeded, types::payment_failed, types::order_confirmed,
                        types::reservation_expired, types::payment_refunded})
    if (type == t) return true;
  return false;
}

std::string dead_letter_topic(const std::string& topic) { return topic + ".dlq"; }

ConsumerLoop::ConsumerLoop(EventLog& log, ConsumerConfig config, DeliveryHandler handler,
                           metrics::EventMetrics* metrics)
    : log_(log),
      config_(std::move(config)),
      handler_(std::move(handler)),
      metrics_(metrics),
      jitter_state_(std::hash<std::string>{}(config_.consumer) | 1) {}

asio::awaitable<void> ConsumerLoop::run() {
  while (!stopping_) {
    const bool ok = co_await poll_once();
    if (!ok) co_await sleep_for(config_.error_backoff);
  }
}

asio::awaitable<bool> ConsumerLoop::poll_once() {
  if (!group_ready_) {
    auto s = co_await log_.ensure_group(config_.topic, config_.group);
    if (!s) {
      spdlog::warn("consumer {}/{}: cannot create the group: {}", config_.group, config_.consumer,
                   s.error().message);
      co_return false;
    }
    group_ready_ = true;
  }
  const auto now = std::chrono::steady_clock::now();
  if (config_.lag_interval.count() > 0 && now >= next_lag_) {
    next_lag_ = now + config_.lag_interval;
    (void)co_await log_.lag(config_.topic, config_.group);  // sets the gauge
  }
  auto batch = co_await log_.consume(config_.topic, config_.group, config_.consumer, config_.batch,
                                     config_.block, config_.reclaim_idle);
  if (!batch) {
    if (batch.error().message.find("NOGROUP") != std::string::npos) group_ready_ = false;
    spdlog::warn("consumer {}/{}: consume failed: {}", config_.group, config_.consumer,
                 batch.error().message);
    co_return false;
  }
  // Handled deliveries are acked together (one XACK per partition, not one per delivery): when
  // the batch is done, or sooner when its handlers take long (a payment per delivery), so that
  // no handled delivery waits for its ack anywhere near reclaim_idle. A crash before the ack
  // redelivers them: handlers are idempotent.
  const auto ack_within = std::min<std::chrono::steady_clock::duration>(config_.reclaim_idle / 4,
                                                                        std::chrono::seconds(1));
  if (config_.concurrency > 1 && batch->size() > 1) {
    co_await handle_concurrently(*batch, ack_within);
    co_return true;
  }
  auto ack_by = std::chrono::steady_clock::now() + ack_within;
  std::vector<Delivery> handled;
  for (auto& d : *batch) {
    if (co_await handle(d)) handled.push_back(std::move(d));
    if (!handled.empty() && std::chrono::steady_clock::now() >= ack_by) {
      co_await ack_handled(std::move(handled));
      handled.clear();
      ack_by = std::chrono::steady_clock::now() + ack_within;
    }
  }
  if (!handled.empty()) co_await ack_handled(std::move(handled));
  co_return true;
}

asio::awaitable<void> ConsumerLoop::handle_concurrently(
    std::vector<Delivery>& batch, std::chrono::steady_clock::duration ack_within) {
  // Chains: the deliveries of one key, in batch order; chains start in the order of their first
  // delivery (so, without retries, the handlers' first backend calls go out in batch order).
  std::vector<std::vector<Delivery*>> chains;
  {
    std::unordered_map<std::string_view, std::size_t> chain_of;
    for (auto& d : batch) {
      auto [it, fresh] = chain_of.try_emplace(d.event.key, chains.size());
      if (fresh) chains.emplace_back();
      chains[it->second].push_back(&d);
    }
  }
  struct Join {
    std::size_t running = 0;
    bool changed = false;
    std::vector<Delivery> handled;
    asio::steady_timer wake;
    explicit Join(asio::any_io_executor ex) : wake(std::move(ex)) {}
  };
  Join join(co_await asio::this_coro::executor);
  auto ack_by = std::chrono::steady_clock::now() + ack_within;
  std::size_t next = 0;
  // Every chain finishes before this coroutine returns (it waits for running == 0), so the
  // chains may refer to `join` and `batch`.
  while (next < chains.size() || join.running > 0) {
    while (next < chains.size() && join.running < config_.concurrency) {
      ++join.running;
      asio::co_spawn(
          join.wake.get_executor(),
          [](ConsumerLoop* self, std::vector<Delivery*>* chain, Join* j) -> asio::awaitable<void> {
            for (Delivery* d : *chain) {
              if (co_await self->handle(*d)) j->handled.push_back(std::move(*d));
              j->changed = true;  // the loop decides whether the handled ones are due
              j->wake.cancel();
            }
            --j->running;
            j->changed = true;
            j->wake.cancel();
          }(this, &chains[next++], &join),
          asio::detached);
    }
    if (!join.changed) {
      // Nothing handled yet: nothing is due, sleep until a chain moves on. Otherwise until the
      // handled ones are due (a deadline already past would make this loop spin).
      join.wake.expires_at(join.handled.empty() ? asio::steady_timer::time_point::max() : ack_by);
      co_await join.wake.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    join.changed = false;
    if (!join.handled.empty() &&
        (join.running == 0 || std::chrono::steady_clock::now() >= ack_by)) {
      co_await ack_handled(std::exchange(join.handled, {}));
      ack_by = std::chrono::steady_clock::now() + ack_within;
    }
  }
  // A chain that ended while the ack above was waiting on Redis left its deliveries here after
  // the loop's last look: ack them too, not at reclaim_idle through a redelivery.
  if (!join.handled.empty()) co_await ack_handled(std::exchange(join.handled, {}));
}

asio::awaitable<void> ConsumerLoop::ack_handled(std::vector<Delivery> handled) {
  const auto n = static_cast<std::int64_t>(handled.size());
  auto a = co_await log_.ack_batch(config_.group, std::move(handled));
  if (!a) co_return;  // redelivered later (handlers are idempotent); consume reports the log
  counts_.acked += n;
  if (metrics_)
    for (std::int64_t i = 0; i < n; ++i) metrics_->delivery(config_.topic, config_.group, "acked");
}

asio::awaitable<bool> ConsumerLoop::handle(const Delivery& d) {
  if (d.event.type.empty() || d.event.key.empty() || !is_json_object(d.event.payload)) {
    co_await dead_letter(d, "unparseable", "missing field or payload not a JSON object");
    co_return false;
  }
  if (!is_known_type(d.event.type)) {
    co_await dead_letter(d, "unknown_type", d.event.type);
    co_return false;
  }
  if (d.delivery_count > config_.max_deliveries) {
    co_await dead_letter(d, "too_many_deliveries", std::to_string(d.delivery_count));
    co_return false;
  }
  auto backoff = config_.retry_backoff;
  for (int attempt = 1;; ++attempt) {
    Status s = co_await handler_(d);
    if (s) co_return true;  // acked with the rest of the batch
    if (s.code() == kPoison) {
      co_await dead_letter(d, "poison", s.error().message);
      co_return false;
    }
    if (attempt >= config_.attempts || stopping_) {
      ++counts_.left_pending;
      spdlog::warn("consumer {}/{}: {} {} failed {} times, left for redelivery: {}", config_.group,
                   config_.consumer, d.event.type, d.event.key, attempt, s.error().message);
      co_return false;
    }
    ++counts_.retried;
    if (metrics_) metrics_->delivery(config_.topic, config_.group, "retried");
    // splitmix-style step: jitter in [backoff/2, backoff]
    jitter_state_ = jitter_state_ * 6364136223846793005ull + 1442695040888963407ull;
    const auto half = backoff / 2;
    const auto jitter = std::chrono::milliseconds(
        half.count() > 0 ? static_cast<long long>((jitter_state_ >> 33) %
                                                  static_cast<std::uint64_t>(half.count() + 1))
                         : 0);
    co_await sleep_for(half + jitter);
    backoff *= 2;
  }
}

asio::awaitable<bool> ConsumerLoop::dead_letter(const Delivery& d, std::string reason,
                                                std::string detail) {
  boost::json::object envelope;
  envelope["reason"] = reason;
  envelope["detail"] = detail;
  envelope["topic"] = config_.topic;
  envelope["group"] = config_.group;
  envelope["partition"] = d.partition;
  envelope["id"] = d.id;
  envelope["delivery_count"] = d.delivery_count;
  envelope["type"] = d.event.type;
  envelope["key"] = d.event.key;
  envelope["payload"] = d.event.payload;
  Event dlq;
  dlq.type = "dead_letter";
  dlq.key = d.event.key.empty() ? d.id : d.event.key;
  dlq.payload = boost::json::serialize(envelope);
  auto published = co_await log_.publish(dead_letter_topic(config_.topic), std::move(dlq));
  if (!published) {
    spdlog::warn("consumer {}/{}: dead-lettering {} failed: {}", config_.group, config_.consumer,
                 d.id, published.error().message);
    co_return false;  // stays pending; redelivered and dead-lettered later
  }
  (void)co_await log_.ack(config_.group, d);
  ++counts_.dead_lettered;
  spdlog::warn("consumer {}/{}: dead-lettered {} ({}: {})", config_.group, config_.consumer, d.id,
               reason, detail);
  if (metrics_) {
    metrics_->dead_lettered(config_.topic, config_.group, reason);
    metrics_->delivery(config_.topic, config_.group, "dead_lettered");
  }
  co_return true;
}

}  // namespace fs::events
