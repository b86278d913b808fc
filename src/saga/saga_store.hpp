#pragma once
// The payment saga's state in PostgreSQL (seed flows 2, 3, 4, 7). Every transition is one
// transaction with a conditional UPDATE on `status` (invariant 8: one transition wins) and the
// outbox row(s) that announce it (no event lost between the database and the event log):
//   PENDING -> PAYING   only while PENDING and not expired; + payment.requested
//   PAYING  -> PAID     + the order (one per reservation: UNIQUE) + payment.succeeded,
//   order.confirmed PAYING  -> FAILED   + stock_shards.allocated given back + payment.failed
//   PENDING -> EXPIRED  (batch, FOR UPDATE SKIP LOCKED) + allocation back + reservation.expired
// FAILED/EXPIRED set stock_return_pending; the Redis return (StockReturner) clears it.
// A PAYING reservation is never expired: once the shopper's payment is queued, only the saga
// ends it, so a payment and an expiry can never both take effect.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "domain/order.hpp"
#include "domain/reservation.hpp"
#include "postgres/database.hpp"

namespace fs::saga {

// A reservation with what the saga adds to it.
struct SagaRecord {
  Reservation reservation;
  std::optional<std::string> payment_method;
  std::optional<std::string> refund_id;
  int saga_attempts = 0;
};

class SagaStore {
 public:
  explicit SagaStore(pg::Database& db) : db_(db) {}

  boost::asio::awaitable<Result<std::optional<SagaRecord>>> load(std::string reservation_id);

  // PENDING -> PAYING for the owner. Errors: not_found (absent or another user's),
  // invalid_state (no longer PENDING, or expired), backend errors.
  boost::asio::awaitable<Result<SagaRecord>> begin_payment(std::string user_id,
                                                           std::string reservation_id,
                                                           std::string payment_method);

  // Claims a PAYING reservation for one saga attempt: moves the lease `lease` ahead, only if no
  // live lease is held by another worker. nullopt: not PAYING or leased by someone else.
  boost::asio::awaitable<Result<std::optional<SagaRecord>>> claim(std::string reservation_id,
                                                                  std::chrono::milliseconds lease);
  // Claims up to `max` PAYING reservations whose lease lapsed (or was never taken) and that have
  // been PAYING for at least `min_age` (the safety net for lost events and dead workers).
  boost::asio::awaitable<Result<std::vector<SagaRecord>>> claim_stale(
      std::chrono::milliseconds min_age, std::chrono::milliseconds lease, std::size_t max);
  // Moves the live leases of these reservations `lease` ahead (the heartbeat of sagas in
  // flight); a lease given up (NULL) or a settled reservation is left alone.
  boost::asio::awaitable<Status> renew_leases(std::vector<std::string> reservation_ids,
                                              std::chrono::milliseconds lease);
  // Gives the lease up (a retry later may claim at once).
  boost::asio::awaitable<Status> release_lease(std::string reservation_id);

  // PAYING -> PAID with an order; returns the order when applied.
  boost::asio::awaitable<Result<std::optional<Order>>> complete_paid(std::string reservation_id,
                                                                     std::string payment_id);
  // PAYING -> FAILED with the allocation given back (the Redis return follows).
  boost::asio::awaitable<Result<std::optional<Reservation>>> fail(std::string reservation_id,
                                                                  std::string failure_code);
  // Records a refund of a charge that succeeded for a reservation no longer PAYING.
  boost::asio::awaitable<Status> record_refund(std::string reservation_id, std::string refund_id);

  // PENDING -> EXPIRED for up to `max` reservations past expires_at (SKIP LOCKED: several
  // sweepers share the work), allocations given back, one reservation.expired each.
  boost::asio::awaitable<Result<std::vector<Reservation>>> expire_batch(std::size_t max);

  // FAILED/EXPIRED reservations whose Redis return has not been confirmed for `min_age`.
  boost::asio::awaitable<Result<std::vector<Reservation>>> returns_pending(
      std::chrono::milliseconds min_age, std::size_t max);
  boost::asio::awaitable<Status> mark_returned(std::string reservation_id);

  // The owner's order; another user's is not_found.
  boost::asio::awaitable<Result<Order>> order(std::string user_id, std::string order_id);

 private:
  pg::Database& db_;
};

}  // namespace fs::saga
