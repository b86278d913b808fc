#pragma once
// EventLog on Redis Streams (event_log.hpp). A topic is `partitions` stream keys
// "<prefix><topic>:<n>"; an event goes to partition fnv1a(event.key) % partitions, so the events
// of one key stay in order and every process agrees on the mapping. Consumer groups are Redis
// consumer groups created on every partition.
//
// Connections: publish, ack, XAUTOCLAIM and XINFO go through the shared pipelined client of the
// calling thread; a blocking XREADGROUP never does (BLOCK would stall every command pipelined
// behind it). Each consume() leases a reader connection of its own from a small pool owned by
// the log (one per concurrently blocked consumer, created on demand, reused afterwards).
//
// Retention: XADD trims with `MAXLEN ~ max_len` per partition, a memory bound far above any
// healthy lag (default 1,000,000 entries per partition). Entries are never trimmed because they
// were consumed; trim_acknowledged() removes (XTRIM MINID) only the entries that every group
// of the partition has received and acknowledged. An entry still pending or undelivered in a
// group is removed only by the MAXLEN bound, i.e. when a group lags by more than max_len entries
// on one partition (the lag gauge alerts long before; see docs/architecture.md).
#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "events/event_log.hpp"
#include "redis/redis_client.hpp"

namespace fs::metrics {
class EventMetrics;
}

namespace fs::events {

struct StreamsConfig {
  std::size_t partitions = 4;
  std::string key_prefix = "events:";  // stream key: <key_prefix><topic>:<partition>
  std::size_t max_len = 1'000'000;     // approximate cap per partition (MAXLEN ~); 0: none
  // trim_acknowledged() removes at most this many entries per XTRIM call: one exact XTRIM of a
  // burst's 25,000 entries (~3,000 stream nodes of ~8 events) held Redis for 10-11 ms, and every
  // reservation with it; 1,000 took 1.7-3 ms (docs/benchmarks.md, "Round of 2026-12-03 (2)").
  std::size_t trim_chunk = 200;
  // Longest a consume() blocks; longer `block` arguments are shortened to this.
  std::chrono::milliseconds max_block{2000};
  // Settings of the dedicated reader connections (command_timeout is raised by max_block).
  redis::ClientConfig reader;
};

// The partition of a key among `partitions` (FNV-1a 64): the same in every process.
std::size_t partition_of(std::string_view key, std::size_t partitions);

class RedisStreamsEventLog final : public EventLog {
 public:
  // `client` is the calling thread's shared client; it and `metrics` (may be null) must outlive
  // the log. The log is bound to `executor` (the thread of `client`).
  RedisStreamsEventLog(boost::asio::any_io_executor executor, redis::Client& client,
                       StreamsConfig config, metrics::EventMetrics* metrics = nullptr);
  ~RedisStreamsEventLog() override;

  boost::asio::awaitable<Result<std::string>> publish(std::string topic, Event event) override;
  // All XADDs in one pipelined round trip.
  boost::asio::awaitable<Result<std::vector<std::string>>> publish_batch(
      std::string topic, std::vector<Event> events) override;
  boost::asio::awaitable<Status> ensure_group(std::string topic, std::string group) override;
  // Returns up to `max` reclaimed entries plus up to `max` new ones per partition.
  boost::asio::awaitable<Result<std::vector<Delivery>>> consume(
      std::string topic, std::string group, std::string consumer, std::size_t max,
      std::chrono::milliseconds block, std::chrono::milliseconds reclaim_idle) override;
  boost::asio::awaitable<Status> ack(std::string group, Delivery delivery) override;
  boost::asio::awaitable<Status> ack_batch(std::string group,
                                           std::vector<Delivery> deliveries) override;
  // Also sets the lag gauges of every partition.
  boost::asio::awaitable<Result<GroupLag>> lag(std::string topic, std::string group) override;

  // XTRIM MINID below the oldest entry some group of the partition has not acknowledged, in
  // steps of whole stream nodes of at most trim_chunk entries (`XTRIM MINID ~ id LIMIT n`, so
  // other clients' commands run between the steps), then one exact XTRIM for the rest of the
  // boundary node. Returns the number of entries removed.
  boost::asio::awaitable<Result<std::int64_t>> trim_acknowledged(std::string topic);

  const std::vector<std::string>& partitions(const std::string& topic);
  std::string partition_key(const std::string& topic, std::size_t partition) const;

  // Closes the reader connections (a blocked consume() returns Errc::cancelled).
  void close();

 private:
  class ReaderLease;
  std::unique_ptr<redis::Client> take_reader();
  void give_back_reader(std::unique_ptr<redis::Client> reader);
  boost::asio::awaitable<Result<std::vector<Delivery>>> reclaim(const std::string& topic,
                                                                const std::string& group,
                                                                const std::string& consumer,
                                                                std::size_t max,
                                                                std::chrono::milliseconds idle);

  boost::asio::any_io_executor executor_;
  redis::Client& client_;
  StreamsConfig config_;
  metrics::EventMetrics* metrics_;
  std::map<std::string, std::vector<std::string>> partitions_;  // topic -> stream keys
  std::map<std::string, std::string> claim_cursor_;  // "<group>\n<stream>" -> XAUTOCLAIM start
  // "<topic>\n<group>\n<consumer>" -> when consume() last looked for reclaimable entries.
  std::map<std::string, std::chrono::steady_clock::time_point> last_reclaim_;
  std::vector<std::unique_ptr<redis::Client>> idle_readers_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool closed_ = false;
};

// Stream entry fields <-> Event (fields "type", "key", "payload"). Returns false when a field is
// missing (a malformed entry).
bool event_from_fields(const redis::Reply& fields, Event& out);

}  // namespace fs::events
