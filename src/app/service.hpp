#pragma once
// The flashsale service process: wires the adapters (Redis, PostgreSQL, HTTP) to the domain
// services, one set per I/O thread, and runs the background loops (catalog refresh, stock
// monitor, hold sweep). Used by `flashsale serve`, `flashsale up` and the end-to-end tests.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "gateway/gateway_config.hpp"
#include "redis/sentinel.hpp"

namespace fs::metrics {
class MetricsRegistry;
}

namespace fs::app {

struct ServiceConfig {
  std::string bind = "127.0.0.1";
  std::uint16_t http_port = 8080;  // 0: any free port
  std::size_t threads = std::thread::hardware_concurrency();
  std::string redis_host = "127.0.0.1";
  std::uint16_t redis_port = 6379;
  // Follow the master through Sentinel instead of redis_host:redis_port (seed flow 9).
  redis::SentinelConfig redis_sentinel;
  // Rebuild the sales' Redis counters from the ledger when the Redis master changes (another
  // run_id: a failover or a restart that may have lost acknowledged writes). Default: on with
  // Sentinel. Checked every reconcile_check; the sales pause for about pg_timeout + 500 ms.
  std::optional<bool> reconcile_on_master_change;
  std::chrono::milliseconds reconcile_check{100};
  std::string pg_conninfo;
  std::size_t pg_connections_per_thread = 4;
  // Group commit in insert lanes: reservation INSERT batches in flight per process, at most one
  // per lane, lane s % insert_lanes batching the reservations of ledger shard s (InsertLanes).
  // Whichever thread finds a lane idle sends its next batch, and the reservations that queue
  // meanwhile go out in the batch after. One lane measured best on 2 cores: PostgreSQL spent
  // 170-185 instead of 260-285 us of CPU per paced 201 than with a lane per thread, and the
  // saturated throughput did not drop (docs/benchmarks.md, "Round of 2026-12-03 (2)").
  // 0: every thread's store has a lane of its own, for every shard (its batches then wait on
  // the shard row locks for the other threads' commits).
  std::size_t insert_lanes = 1;
  std::string jwt_secret;
  bool migrate = true;
  std::size_t body_limit = 16 * 1024;
  std::chrono::milliseconds redis_timeout{1000};
  std::chrono::milliseconds pg_timeout{2000};
  std::chrono::milliseconds stock_refresh{100};
  std::chrono::milliseconds catalog_refresh{1000};
  std::chrono::milliseconds hold_sweep_interval{5000};
  std::chrono::milliseconds hold_min_age{30000};
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds idle_timeout{30000};
  // Rate limits, admission queue, concurrency limit, bot detection: all off unless set here
  // (the CLI starts from GatewayConfig::production()).
  gateway::GatewayConfig gateway;
};

class FlashsaleService {
 public:
  explicit FlashsaleService(ServiceConfig config);
  ~FlashsaleService();
  FlashsaleService(const FlashsaleService&) = delete;
  FlashsaleService& operator=(const FlashsaleService&) = delete;

  // Connects, migrates, starts listening. Throws std::runtime_error on start-up failure.
  void start();
  std::uint16_t port() const;
  // Served on /metrics; in-process worker roles register theirs here too.
  metrics::MetricsRegistry& registry();
  // Drains in-flight requests, stops background loops, closes backends. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fs::app
