#pragma once
// A member of a consumer group that runs a handler per delivery (seed flows 2, 3, 11, 12).
//
// Per delivery, in order within a batch:
// - malformed events (a missing field, a payload that is not a JSON object, a type that is not
//   one of events::types), deliveries seen more than `max_deliveries` times, and deliveries whose
//   handler answers `poison` go to the dead-letter topic "<topic>.dlq", are acked and counted
//   (flashsale_events_dead_lettered_total), so one bad event never stalls or crash-loops a group;
// - the handler succeeds → acked with the batch's other handled deliveries (one XACK per
//   partition) when the batch is done, or after min(reclaim_idle / 4, 1 s) if its handlers are
//   slow;
// - the handler fails otherwise (transient: a backend down, a timeout) → retried in place with
//   exponential backoff and jitter up to `attempts` times, then left pending: XAUTOCLAIM
//   redelivers it after `reclaim_idle` (to this member or another), with a higher delivery count.
// Handlers must be idempotent (at-least-once delivery) and should answer Status{} for the
// event types they do not care about (every type of a topic reaches every group).
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "events/event_log.hpp"

namespace fs::metrics {
class EventMetrics;
}

namespace fs::events {

// The error code a handler returns for an event it can never handle (dead-letter it now).
inline constexpr Errc kPoison = Errc::invalid_request;
inline Error poison(std::string why) { return Error{kPoison, std::move(why)}; }

// True for the types listed in events::types.
bool is_known_type(std::string_view type);
// The dead-letter topic of a topic.
std::string dead_letter_topic(const std::string& topic);

struct ConsumerConfig {
  std::string topic = topics::reservations;
  std::string group;
  std::string consumer;  // unique per member (e.g. host:pid:n)
  std::size_t batch = 16;
  // Deliveries of a batch handled at once. 1: one after the other. More: the deliveries of one
  // event key still run one after the other, in order; different keys run side by side, up to
  // this many, so a handler's backend calls of a whole batch share round trips (the notifier:
  // one pipelined write for the batch's feed pushes instead of one round trip per event).
  std::size_t concurrency = 1;
  std::chrono::milliseconds block{1000};
  std::chrono::milliseconds reclaim_idle{30'000};
  std::int64_t max_deliveries = 5;  // more deliveries than this → dead letter
  int attempts = 3;                 // in-place tries of a transient failure
  std::chrono::milliseconds retry_backoff{50};
  std::chrono::milliseconds error_backoff{500};  // after the log itself failed
  std::chrono::milliseconds lag_interval{5000};  // refresh of the lag gauge; 0: never
};

using DeliveryHandler = std::function<boost::asio::awaitable<Status>(const Delivery&)>;

class ConsumerLoop {
 public:
  // `log` and `metrics` (may be null) must outlive the loop.
  ConsumerLoop(EventLog& log, ConsumerConfig config, DeliveryHandler handler,
               metrics::EventMetrics* metrics = nullptr);

  // Creates the group if missing, then consumes until stop(); returns within about
  // config.block after stop().
  boost::asio::awaitable<void> run();
  void stop() { stopping_ = true; }

  // Handles one batch (exposed for tests); false when the log failed.
  boost::asio::awaitable<bool> poll_once();

  struct Counts {
    std::int64_t acked = 0;
    std::int64_t dead_lettered = 0;
    std::int64_t retried = 0;
    std::int64_t left_pending = 0;
  };
  const Counts& counts() const { return counts_; }
  const ConsumerConfig& config() const { return config_; }

 private:
  // true: handled, to be acked with its batch; false: dead-lettered (acked already) or left
  // pending for redelivery.
  boost::asio::awaitable<bool> handle(const Delivery& d);
  boost::asio::awaitable<void> ack_handled(std::vector<Delivery> handled);
  // The batch with config_.concurrency > 1 (see ConsumerConfig::concurrency).
  boost::asio::awaitable<void> handle_concurrently(std::vector<Delivery>& batch,
                                                   std::chrono::steady_clock::duration ack_within);
  boost::asio::awaitable<bool> dead_letter(const Delivery& d, std::string reason,
                                           std::string detail);

  EventLog& log_;
  ConsumerConfig config_;
  DeliveryHandler handler_;
  metrics::EventMetrics* metrics_;
  bool stopping_ = false;
  bool group_ready_ = false;
  std::chrono::steady_clock::time_point next_lag_{};
  std::uint64_t jitter_state_;
  Counts counts_;
};

}  // namespace fs::events
