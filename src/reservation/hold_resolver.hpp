#pragma once
// Settles stock holds whose PostgreSQL outcome is unknown: the insert failed or timed out (the
// row may or may not have been committed), or the process died between the Redis decrement
// and the insert. PostgreSQL decides: a FAILED tombstone row with the reservation's id is
// written unless the row exists. Tombstone written → the reservation can never appear later
// (primary key), so the units go back to Redis (exactly once, through the hold). Row exists →
// the hold is marked committed.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>

#include "common/clock.hpp"
#include "domain/product.hpp"
#include "domain/reservation.hpp"

namespace fs::metrics {
class ReservationMetrics;
}
namespace fs::inventory {
class StockShards;
class StockView;
}  // namespace fs::inventory

namespace fs::reservation {

class ReservationStore;

class HoldResolver {
 public:
  HoldResolver(boost::asio::any_io_executor executor, ReservationStore& store,
               inventory::StockShards& stock, inventory::StockView& view, const Clock& clock,
               metrics::ReservationMetrics& metrics);

  // Keeps trying (with backoff, up to `give_up_after`) until PostgreSQL answers.
  void resolve_later(Product product, Reservation reservation,
                     std::chrono::milliseconds first_delay = std::chrono::milliseconds{200},
                     std::chrono::milliseconds give_up_after = std::chrono::minutes{10});

  // One attempt. true when settled (released or kept).
  boost::asio::awaitable<bool> resolve_once(const Product& product, const Reservation& reservation);

  // Settles the not-yet-committed holds of a sale older than min_age (crash recovery), up to
  // 256 per call, oldest first (the next call takes the rest).
  boost::asio::awaitable<std::size_t> sweep(const Product& product,
                                            std::chrono::milliseconds min_age);

 private:
  boost::asio::awaitable<void> resolve_loop(Product product, Reservation reservation,
                                            std::chrono::milliseconds first_delay,
                                            std::chrono::milliseconds give_up_after);
  boost::asio::any_io_executor executor_;
  ReservationStore& store_;
  inventory::StockShards& stock_;
  inventory::StockView& view_;
  const Clock& clock_;
  metrics::ReservationMetrics& metrics_;
};

}  // namespace fs::reservation
