#pragma once
// Shared set-up of the event-log tests: one Redis per process, a fresh topic per test.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "events/redis_streams_event_log.hpp"
#include "metrics/event_metrics.hpp"
#include "metrics/metrics_registry.hpp"
#include "redis/redis_client_impl.hpp"
#include "support/servers.hpp"

namespace fs::test {

inline redis::ClientConfig events_redis_config() {
  redis::ClientConfig c;
  c.port = shared_redis().port();
  c.command_timeout = std::chrono::milliseconds{5000};
  c.reconnect_backoff_min = std::chrono::milliseconds{20};
  c.reconnect_backoff_max = std::chrono::milliseconds{200};
  return c;
}

inline events::StreamsConfig streams_config(std::size_t partitions = 4) {
  events::StreamsConfig c;
  c.partitions = partitions;
  c.key_prefix = unique_name("ev") + ":";
  c.reader = events_redis_config();
  return c;
}

// One thread's view of the log: its own io_context, shared client and log.
struct LogOnThread {
  explicit LogOnThread(const events::StreamsConfig& config,
                       metrics::EventMetrics* metrics = nullptr)
      : client(redis::make_client(io.get_executor(), events_redis_config())),
        log(std::make_unique<events::RedisStreamsEventLog>(io.get_executor(), *client, config,
                                                           metrics)) {}
  ~LogOnThread() {
    log->close();
    client->close();
  }
  boost::asio::io_context io{1};
  std::unique_ptr<redis::Client> client;
  std::unique_ptr<events::RedisStreamsEventLog> log;
};

}  // namespace fs::test
