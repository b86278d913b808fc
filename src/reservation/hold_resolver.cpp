#include "reservation/hold_resolver.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "inventory/stock_shards.hpp"
#include "inventory/stock_view.hpp"
#include "metrics/reservation_metrics.hpp"
#include "reservation/reservation_store.hpp"

namespace fs::reservation {
namespace asio = boost::asio;

namespace {
// Holds settled per sale per sweep round at most (each costs a PostgreSQL round trip).
constexpr std::size_t kSweepPage = 256;
}  // namespace

HoldResolver::HoldResolver(asio::any_io_executor executor, ReservationStore& store,
                           inventory::StockShards& stock, inventory::StockView& view,
                           const Clock& clock, metrics::ReservationMetrics& metrics)
    : executor_(std::move(executor)),
      store_(store),
      stock_(stock),
      view_(view),
      clock_(clock),
      metrics_(metrics) {}

void HoldResolver::resolve_later(Product product, Reservation reservation,
                                 std::chrono::milliseconds first_delay,
                                 std::chrono::milliseconds give_up_after) {
  asio::co_spawn(
      executor_,
      resolve_loop(std::move(product), std::move(reservation), first_delay, give_up_after),
      asio::detached);
}

asio::awaitable<void> HoldResolver::resolve_loop(Product product, Reservation reservation,
                                                 std::chrono::milliseconds first_delay,
                                                 std::chrono::milliseconds give_up_after) {
  asio::steady_timer timer(executor_);
  auto deadline = std::chrono::steady_clock::now() + give_up_after;
  auto delay = first_delay;
  while (std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(delay);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    if (co_await resolve_once(product, reservation)) co_return;
    delay = std::min(delay * 2, std::chrono::milliseconds{5000});
  }
  // Left for the periodic sweep.
  metrics_.hold_resolved("pending");
}

asio::awaitable<bool> HoldResolver::resolve_once(const Product& product,
                                                 const Reservation& reservation) {
  auto tomb = co_await store_.tombstone_if_absent(reservation);
  if (!tomb) co_return false;
  if (*tomb) {
    auto rel = co_await stock_.release(product, reservation.user_id, reservation.shard,
                                       reservation.quantity, reservation.reservation_id);
    if (!rel) co_return false;  // the tombstone stays; the next attempt releases
    if (*rel) view_.stock_returned(product.product_id, product.generation);
    metrics_.hold_resolved("released");
  } else {
    auto c = co_await stock_.commit_hold(product, reservation.reservation_id);
    if (!c) co_return false;
    metrics_.hold_resolved("kept");
  }
  co_return true;
}

asio::awaitable<std::size_t> HoldResolver::sweep(const Product& product,
                                                 std::chrono::milliseconds min_age) {
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now().time_since_epoch())
          .count();
  // From the index of unsettled holds, a bounded page per round: the sweep's cost follows the
  // holds whose outcome is unknown, not the sale's live reservations.
  auto holds = co_await stock_.unsettled_holds(product, now_ms - min_age.count(), kSweepPage);
  if (!holds) co_return 0;
  std::size_t settled = 0;
  for (const auto& h : *holds) {
    Reservation r;
    r.reservation_id = h.reservation_id;
    r.product_id = product.product_id;
    r.generation = product.generation;
    r.user_id = h.user_id;
    r.quantity = h.quantity;
    r.shard = h.shard;
    r.amount_cents = product.price_cents * h.quantity;
    r.currency = product.currency;
    r.created_at = SysTime{std::chrono::milliseconds{h.taken_at_ms}};
    r.expires_at = r.created_at;
    if (co_await resolve_once(product, r)) ++settled;
  }
  co_return settled;
}

}  // namespace fs::reservation
