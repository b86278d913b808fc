#pragma once
// The event log (seed flows 2, 3, 4, 11, 12): Kafka semantics on Redis Streams. A topic is split
// into partitions (one stream key each, chosen by hash(event.key), so the events of one key stay
// in order); consumer groups give each event to one member of the group; delivery is
// at-least-once (a member acks after handling; entries left pending by a dead member are
// reclaimed by a live one), so every handler must be idempotent and tolerate reordering.
//
// Producers inside a PostgreSQL transaction never publish directly: they insert a row into the
// `outbox` table in the same transaction as the state change (migrations/002_outbox.sql), and
// the outbox relay publishes it here and deletes the row (see docs/architecture.md). No event is
// lost between PostgreSQL and the stream; a crash between publish and delete publishes twice.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace fs::events {

// Topic names and event types (the `type` of an Event). Payloads are JSON objects: the
// reservation view of api.md (with "user_id") for reservation/payment events, the order view
// for order.confirmed.
// reservations: what users are told about (the notifier's group reads it); payments: the saga's
// intake, payment.requested only, so the saga's group does not read (and ack) every
// reservation.created of a sale, nor the notifier every payment.requested.
namespace topics {
inline constexpr const char* reservations = "reservations";  // key: reservation id
inline constexpr const char* payments = "payments";          // key: reservation id
}  // namespace topics
namespace types {
inline constexpr const char* reservation_created = "reservation.created";
inline constexpr const char* payment_requested = "payment.requested";  // topic payments: the saga
inline constexpr const char* payment_succeeded = "payment.succeeded";
inline constexpr const char* payment_failed = "payment.failed";
inline constexpr const char* order_confirmed = "order.confirmed";
inline constexpr const char* reservation_expired = "reservation.expired";
inline constexpr const char* payment_refunded = "payment.refunded";
}  // namespace types

struct Event {
  std::string type;     // one of types::*
  std::string key;      // partition key (the reservation id)
  std::string payload;  // JSON object
};

// One event handed to one member of a consumer group.
struct Delivery {
  std::string partition;  // the stream key it came from
  std::string id;         // the stream entry id: the ack handle
  Event event;
  std::int64_t delivery_count = 1;  // > 1 when redelivered (reclaimed from a dead member)
};

struct GroupLag {
  std::int64_t undelivered = 0;  // entries not yet handed to any member, summed over partitions
  std::int64_t pending = 0;      // handed out but not acked
};

// Bound to one executor; coroutine parameters are taken by value (they outlive suspension).
class EventLog {
 public:
  virtual ~EventLog() = default;

  // Appends to the partition of hash(event.key). Returns the stream entry id.
  virtual boost::asio::awaitable<Result<std::string>> publish(std::string topic, Event event) = 0;

  // Several events of one topic (the outbox relay); implementations pipeline them. Entry ids in
  // input order; fails if any append failed (those that succeeded stay published: at-least-once).
  // The default publishes one by one.
  virtual boost::asio::awaitable<Result<std::vector<std::string>>> publish_batch(
      std::string topic, std::vector<Event> events) {
    std::vector<std::string> ids;
    ids.reserve(events.size());
    for (auto& e : events) {
      auto id = co_await publish(topic, std::move(e));
      if (!id) co_return std::move(id).error();
      ids.push_back(std::move(*id));
    }
    co_return ids;
  }

  // Creates the consumer group on every partition of the topic if missing (idempotent); a new
  // group starts at the beginning of each stream.
  virtual boost::asio::awaitable<Status> ensure_group(std::string topic, std::string group) = 0;

  // Up to `max` events for this member: first entries left pending by other members for longer
  // than `reclaim_idle` (XAUTOCLAIM; looked for at most every reclaim_idle / 2, capped at one
  // second, per member), then new ones, waiting at most `block` when there are none.
  // Blocking reads never stall other Redis traffic (they use a connection of their own).
  virtual boost::asio::awaitable<Result<std::vector<Delivery>>> consume(
      std::string topic, std::string group, std::string consumer, std::size_t max,
      std::chrono::milliseconds block, std::chrono::milliseconds reclaim_idle) = 0;

  virtual boost::asio::awaitable<Status> ack(std::string group, Delivery delivery) = 0;
  // Acks several deliveries of one group at once (a consumer's handled batch): one XACK per
  // partition instead of one per delivery. The default acks one by one, stopping at the first
  // failure (the rest stay pending and are redelivered: at-least-once).
  virtual boost::asio::awaitable<Status> ack_batch(std::string group,
                                                   std::vector<Delivery> deliveries) {
    for (auto& d : deliveries) {
      auto s = co_await ack(group, std::move(d));
      if (!s) co_return s;
    }
    co_return Status{};
  }

  virtual boost::asio::awaitable<Result<GroupLag>> lag(std::string topic, std::string group) = 0;
};

}  // namespace fs::events
