#pragma once
// The payment saga orchestrator (seed flows 2, 3, 4, 7), one instance per worker thread; many
// workers may run in many processes. Triggered by `payment.requested` (event log, consumer group
// "saga") or by the stale-PAYING scan (the safety net for lost events and dead workers):
//   claim   the reservation must be PAYING and not leased by a live worker (lease = progress
//           record + mutual exclusion; a killed worker's lease lapses and another resumes)
//   charge  PaymentProvider with the reservation's one idempotency key (res_<id>); transient
//           errors (timeout, 5xx, unavailable) retried with backoff and jitter, same key
//   settle  success -> PAID + order (one txn); decline -> FAILED + units back (compensation)
// Every step is idempotent: PAID/FAILED/EXPIRED are acked and ignored; a re-charge with the same
// key is a replay at the provider. A charge that succeeded for a reservation that is no longer
// PAYING is refunded.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/random.hpp"
#include "common/result.hpp"
#include "domain/payment_saga.hpp"

namespace fs::payments {
class PaymentProvider;
}
namespace fs::inventory {
class StockShards;
}
namespace fs::metrics {
class SagaMetrics;
}

namespace fs::saga {

class SagaStore;
class StockReturner;
struct SagaRecord;

struct PaymentSagaOptions {
  saga_rules::RetryPolicy retry;
  // How long a claim protects a saga attempt from other workers. Short: while the attempt runs
  // (the charge in flight, retries) renew_leases() moves it ahead every lease / 3, so a worker
  // that dies loses its sagas to another within one lease.
  std::chrono::milliseconds lease{6'000};
  // Test-only fault hook: the worker SIGKILLs itself when it reaches this step ("claimed",
  // "charged", "paid"). Read from FLASHSALE_SAGA_KILL_AT by the worker wiring.
  std::string kill_at;
};

using ProviderFactory = std::function<std::unique_ptr<payments::PaymentProvider>()>;

class PaymentSaga {
 public:
  PaymentSaga(boost::asio::any_io_executor executor, SagaStore& store, StockReturner& returner,
              inventory::StockShards& stock, ProviderFactory providers, Random& random,
              metrics::SagaMetrics& metrics, PaymentSagaOptions options = {});
  ~PaymentSaga();

  // Handles payment.requested for one reservation. Success means the event may be acked (the
  // saga ended, or another live worker holds it); an error means retry later.
  boost::asio::awaitable<Status> handle(std::string reservation_id);

  // Claims one reservation PAYING for at least `min_age` with no live lease, and runs its saga.
  // false when there was none.
  boost::asio::awaitable<Result<bool>> resume_one(std::chrono::milliseconds min_age);

  // Runs the saga of a reservation this worker has claimed (SagaStore::claim / claim_stale).
  boost::asio::awaitable<Status> run(SagaRecord record);

  // The lease heartbeat: renews the leases of every saga this instance is running (one UPDATE).
  // The worker calls it every lease / 3.
  boost::asio::awaitable<Status> renew_leases();
  std::size_t running() const { return running_.size(); }

 private:
  boost::asio::awaitable<Status> settle_success(const SagaRecord& record, std::string payment_id);
  boost::asio::awaitable<void> pause(std::chrono::milliseconds d);
  std::unique_ptr<payments::PaymentProvider> acquire();
  void recycle(std::unique_ptr<payments::PaymentProvider> p);
  void reached(const char* step) const;

  boost::asio::any_io_executor executor_;
  SagaStore& store_;
  StockReturner& returner_;
  inventory::StockShards& stock_;
  ProviderFactory providers_;
  std::vector<std::unique_ptr<payments::PaymentProvider>> idle_;
  std::set<std::string> running_;  // reservation ids of the sagas in run()
  Random& random_;
  metrics::SagaMetrics& metrics_;
  PaymentSagaOptions options_;
};

}  // namespace fs::saga
