#include "saga/payment_saga.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "domain/product.hpp"
#include "inventory/stock_shards.hpp"
#include "metrics/saga_metrics.hpp"
#include "payments/payment_provider.hpp"
#include "saga/saga_store.hpp"
#include "saga/stock_returner.hpp"

namespace fs::saga {
namespace asio = boost::asio;
using saga_rules::ChargeVerdict;

PaymentSaga::PaymentSaga(asio::any_io_executor executor, SagaStore& store, StockReturner& returner,
                         inventory::StockShards& stock, ProviderFactory providers, Random& random,
                         metrics::SagaMetrics& metrics, PaymentSagaOptions options)
    : executor_(std::move(executor)),
      store_(store),
      returner_(returner),
      stock_(stock),
      providers_(std::move(providers)),
      random_(random),
      metrics_(metrics),
      options_(std::move(options)) {}

PaymentSaga::~PaymentSaga() = default;

void PaymentSaga::reached(const char* step) const {
  if (!options_.kill_at.empty() && options_.kill_at == step) {
    spdlog::warn("saga: FLASHSALE_SAGA_KILL_AT={}: killing this worker", step);
    ::kill(::getpid(), SIGKILL);
  }
}

std::unique_ptr<payments::PaymentProvider> PaymentSaga::acquire() {
  if (idle_.empty()) return providers_();
  auto p = std::move(idle_.back());
  idle_.pop_back();
  return p;
}

void PaymentSaga::recycle(std::unique_ptr<payments::PaymentProvider> p) {
  if (idle_.size() < 64) idle_.push_back(std::move(p));
}

asio::awaitable<void> PaymentSaga::pause(std::chrono::milliseconds d) {
  asio::steady_timer t(executor_, d);
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<Status> PaymentSaga::handle(std::string reservation_id) {
  auto claimed = co_await store_.claim(reservation_id, options_.lease);
  if (!claimed) co_return std::move(claimed).error();
  if (!*claimed) {
    auto cur = co_await store_.load(reservation_id);
    if (!cur) co_return std::move(cur).error();
    if (!*cur || saga_rules::is_final((*cur)->reservation.status))
      metrics_.step("already_final");  // unknown id, or settled: a duplicate / late event
    else
      metrics_.step("busy");  // a live worker holds the lease (or still PENDING: stale event)
    co_return Status{};
  }
  co_return co_await run(std::move(**claimed));
}

asio::awaitable<Result<bool>> PaymentSaga::resume_one(std::chrono::milliseconds min_age) {
  auto claimed = co_await store_.claim_stale(min_age, options_.lease, 1);
  if (!claimed) co_return std::move(claimed).error();
  if (claimed->empty()) co_return false;
  auto st = co_await run(std::move(claimed->front()));
  if (!st) co_return std::move(st).error();
  co_return true;
}

asio::awaitable<Status> PaymentSaga::renew_leases() {
  if (running_.empty()) co_return Status{};
  std::vector<std::string> ids(running_.begin(), running_.end());
  co_return co_await store_.renew_leases(std::move(ids), options_.lease);
}

namespace {
// Keeps a reservation id in PaymentSaga::running_ for the life of one run() (the coroutine's
// frame), so its lease is renewed while it runs.
class Running {
 public:
  Running(std::set<std::string>& set, std::string id) : set_(set), id_(std::move(id)) {
    added_ = set_.insert(id_).second;
  }
  ~Running() {
    if (added_) set_.erase(id_);
  }
  Running(const Running&) = delete;
  Running& operator=(const Running&) = delete;

 private:
  std::set<std::string>& set_;
  std::string id_;
  bool added_ = false;
};
}  // namespace

asio::awaitable<Status> PaymentSaga::run(SagaRecord record) {
  const Running running(running_, record.reservation.reservation_id);
  metrics_.step("claimed");
  reached("claimed");
  const Reservation& r = record.reservation;
  payments::PaymentRequest req;
  req.amount_cents = r.amount_cents;
  req.currency = r.currency;
  req.payment_method = record.payment_method.value_or("");
  req.idempotency_key = saga_rules::charge_key(r.reservation_id);
  req.reservation_id = r.reservation_id;
  if (record.saga_attempts > 1) {
    spdlog::info("saga: resuming {} (attempt {}), same key {}", r.reservation_id,
                 record.saga_attempts, req.idempotency_key);
  }

  const auto started = std::chrono::steady_clock::now();
  saga_rules::ChargeDecision decision;
  payments::PaymentIntent intent;
  for (int attempt = 1;; ++attempt) {
    auto provider = acquire();
    payments::PaymentRequest copy = req;
    auto charged = co_await provider->create_payment_intent(std::move(copy));
    if (charged) {
      recycle(std::move(provider));
      decision = saga_rules::classify_charge(true, Errc::internal, charged->declined,
                                             charged->decline_code, charged->error_code);
      intent = std::move(*charged);
    } else {
      // A connection that failed mid-call is not reused.
      decision = saga_rules::classify_charge(false, charged.code(), false, {}, {});
    }
    if (decision.verdict != ChargeVerdict::retry) break;
    metrics_.charge("retry");
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    if (!options_.retry.may_retry(elapsed)) {
      metrics_.step("gave_up");
      spdlog::warn("saga: {}: provider still failing after {} ms ({}); left PAYING for later",
                   r.reservation_id, elapsed.count(), charged.error().message);
      (void)co_await store_.release_lease(r.reservation_id);
      co_return Error{Errc::unavailable, "payment provider unavailable"};
    }
    metrics_.retry();
    co_await pause(options_.retry.delay(attempt, random_));
  }

  switch (decision.verdict) {
    case ChargeVerdict::succeeded: {
      metrics_.charge("succeeded");
      reached("charged");
      co_return co_await settle_success(record, intent.id);
    }
    case ChargeVerdict::declined:
    case ChargeVerdict::rejected: {
      metrics_.charge(decision.verdict == ChargeVerdict::declined ? "declined" : "rejected");
      auto failed = co_await store_.fail(r.reservation_id, decision.failure_code);
      if (!failed) co_return std::move(failed).error();
      if (!*failed) co_return Status{};  // settled by someone else
      metrics_.step("failed");
      metrics_.compensation();
      // The stock_return_pending flag is set: if Redis fails here, the repair loop returns it.
      (void)co_await returner_.give_back(std::move(**failed));
      co_return Status{};
    }
    case ChargeVerdict::retry:
      break;
  }
  co_return Error{Errc::internal, "unreachable saga verdict"};
}

asio::awaitable<Status> PaymentSaga::settle_success(const SagaRecord& record,
                                                    std::string payment_id) {
  const Reservation& r = record.reservation;
  auto paid = co_await store_.complete_paid(r.reservation_id, payment_id);
  if (!paid) co_return std::move(paid).error();
  if (*paid) {
    metrics_.step("paid");
    // The unit is sold: drop its hold so that no later release can ever return it. The user's
    // count stays (orders count against the per-user limit).
    Product p;
    p.product_id = r.product_id;
    p.generation = r.generation;
    (void)co_await stock_.consume_hold(p, r.reservation_id);
    reached("paid");
    co_return Status{};
  }
  // Not PAYING any more. PAID with this payment: a duplicate. Otherwise the reservation ended
  // another way while the card was charged: refund (idempotent through the refund key).
  auto cur = co_await store_.load(r.reservation_id);
  if (!cur) co_return std::move(cur).error();
  if (*cur && (*cur)->reservation.status == ReservationStatus::paid &&
      (*cur)->reservation.payment_id == std::optional<std::string>{payment_id})
    co_return Status{};
  if (*cur && (*cur)->refund_id) co_return Status{};
  auto provider = acquire();
  auto refunded = co_await provider->refund(payment_id, saga_rules::refund_key(r.reservation_id));
  if (!refunded) {
    metrics_.refund("error");
    co_return std::move(refunded).error();
  }
  recycle(std::move(provider));
  metrics_.refund("succeeded");
  metrics_.step("refunded");
  spdlog::warn("saga: {} was no longer PAYING when its charge {} succeeded: refunded ({})",
               r.reservation_id, payment_id, refunded->id);
  co_return co_await store_.record_refund(r.reservation_id, refunded->id);
}

}  // namespace fs::saga
