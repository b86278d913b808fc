#pragma once
// Background worker roles that share nothing but Redis and PostgreSQL, so they run in the
// service's process (`flashsale up`) or in their own (`flashsale worker --roles ...`):
//   saga     payment saga orchestrators (PaymentSaga); intake from the event log when one is
//            plugged in (consumer group "saga"), plus the scan of PAYING reservations whose lease
//            lapsed (the safety net for lost events and killed workers); without an event log
//            the scan is the intake (poll_intake, min age 0)
//   sweeper  the expiry sweeper, plus the repair of stock returns left unfinished
// The events engineer adds "relay" and "notifier"; the lead reconciles the role list.
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "domain/payment_saga.hpp"
#include "redis/sentinel.hpp"

namespace fs::events {
class EventLog;
}
namespace fs::redis {
class Client;
}
namespace fs::metrics {
class MetricsRegistry;
}

namespace fs::app {

struct WorkersConfig {
  std::set<std::string> roles{"saga", "sweeper"};
  std::string redis_host = "127.0.0.1";
  std::uint16_t redis_port = 6379;
  redis::SentinelConfig redis_sentinel;  // when enabled, replaces redis_host:redis_port
  std::string pg_conninfo;
  std::size_t threads = 1;
  std::size_t pg_connections = 8;  // per thread
  std::chrono::milliseconds redis_timeout{1000};
  std::chrono::milliseconds pg_timeout{5000};

  // saga
  std::size_t saga_concurrency = 16;  // sagas in flight per thread
  std::string payments_host = "127.0.0.1";
  std::uint16_t payments_port = 12111;
  std::string payments_secret_key = "sk_test_flashsale";
  std::chrono::milliseconds payments_timeout{10'000};
  saga_rules::RetryPolicy retry;
  // A claimed saga's lease; renewed every lease / 3 while the saga runs (the charge in flight,
  // retries), so a killed worker's sagas are resumed by another within about one lease.
  std::chrono::milliseconds lease{6'000};
  // Without an event log every PAYING reservation is picked up by polling (this often);
  // with one, only those PAYING for stale_paying_after with a lapsed lease are.
  bool poll_intake = true;
  std::chrono::milliseconds intake_poll{100};
  std::chrono::milliseconds stale_paying_after{10'000};
  std::string kill_at;  // test-only fault hook (FLASHSALE_SAGA_KILL_AT)

  // sweeper
  std::chrono::milliseconds sweep_interval{60'000};
  std::size_t sweep_batch = 1000;
  std::chrono::milliseconds return_repair_interval{5'000};
  std::chrono::milliseconds return_repair_min_age{5'000};

  // Event log intake (saga role): builds the thread's EventLog over its Redis client. Empty: no
  // event log (poll_intake covers the intake).
  std::function<std::unique_ptr<events::EventLog>(boost::asio::any_io_executor, redis::Client&)>
      event_log;
  std::string consumer_prefix = "saga";
  std::chrono::milliseconds event_reclaim_idle{30'000};  // a dead member's events move on after

  metrics::MetricsRegistry* registry = nullptr;  // null: the workers keep their own
};

class BackgroundWorkers {
 public:
  explicit BackgroundWorkers(WorkersConfig config);
  ~BackgroundWorkers();
  BackgroundWorkers(const BackgroundWorkers&) = delete;
  BackgroundWorkers& operator=(const BackgroundWorkers&) = delete;

  void start();  // throws std::runtime_error on bad configuration
  // Stops the loops (in-flight sagas finish or are resumed later by another worker). Idempotent.
  void stop();
  std::string metrics_text() const;

  // The demo of `flashsale up`: every PENDING reservation of the product is sent to the saga as
  // /pay would (3 of 5 with pm_card_visa, 1 of 5 with pm_card_chargeDeclined), 1 of 5 is left to
  // expire. Returns how many were sent to pay.
  std::size_t demo_checkout(const std::string& product_id);
  struct SaleOutcome {
    std::int64_t stock_total = 0, available = 0, pending = 0, paying = 0, paid = 0, failed = 0,
                 expired = 0, orders = 0;
    std::int64_t returns_pending = 0;  // FAILED/EXPIRED rows whose units are not yet back in Redis
    bool conserved() const { return available + pending + paying + paid == stock_total; }
  };
  // Waits until the sale is at rest (nothing PENDING or PAYING, and every FAILED/EXPIRED unit
  // back in Redis) or the timeout, then reads the ledger and Redis.
  SaleOutcome wait_settled(const std::string& product_id, std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The event log factory for WorkersConfig::event_log: Redis Streams on the workers' Redis
// (stream keys under `key_prefix`; empty: the default, "events:").
std::function<std::unique_ptr<events::EventLog>(boost::asio::any_io_executor, redis::Client&)>
redis_streams_event_log(const WorkersConfig& config, std::string key_prefix = {});

// "saga,sweeper" -> {"saga", "sweeper"}; unknown roles are an error.
std::set<std::string> parse_roles(const std::string& list, std::string* error);

}  // namespace fs::app
