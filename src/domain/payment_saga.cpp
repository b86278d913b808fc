#include "domain/payment_saga.hpp"

#include <algorithm>

namespace fs::saga_rules {

std::string charge_key(std::string_view reservation_id) {
  return "res_" + std::string(reservation_id);
}

std::string refund_key(std::string_view reservation_id) {
  return "refund_res_" + std::string(reservation_id);
}

bool may_start_payment(const Reservation& r, SysTime now) noexcept {
  return r.status == ReservationStatus::pending && now < r.expires_at;
}

bool is_final(ReservationStatus s) noexcept {
  return s == ReservationStatus::paid || s == ReservationStatus::failed ||
         s == ReservationStatus::expired;
}

ChargeDecision classify_charge(bool ok, Errc error, bool declined, std::string_view decline_code,
                               std::string_view error_code) {
  if (ok) {
    if (!declined) return {ChargeVerdict::succeeded, {}};
    std::string code(!decline_code.empty() ? decline_code
                     : !error_code.empty() ? error_code
                                           : std::string_view{"card_declined"});
    return {ChargeVerdict::declined, std::move(code)};
  }
  switch (error) {
    case Errc::invalid_request:
    case Errc::not_found:
      // A 4xx other than an idempotency or auth problem: Stripe refused the request, nothing was
      // charged (e.g. an unknown payment method).
      return {ChargeVerdict::rejected, "payment_rejected"};
    default:
      // timeout (outcome unknown), unavailable (5xx, connect failure, key in flight),
      // protocol_error (unreadable answer), unauthorized / idempotency_conflict (operator
      // problems a retry may outlive): never fail a reservation whose charge may have happened.
      return {ChargeVerdict::retry, {}};
  }
}

std::chrono::milliseconds RetryPolicy::delay(int attempt, Random& random) const {
  attempt = std::clamp(attempt, 1, 30);
  const auto cap_ms = std::min<std::int64_t>(
      max_delay.count(), initial.count() * (std::int64_t{1} << std::min(attempt - 1, 20)));
  const auto span = static_cast<std::uint64_t>(std::max<std::int64_t>(cap_ms, 0)) + 1;
  const auto pick = static_cast<std::int64_t>(random.next_u64() % span);
  return std::chrono::milliseconds{std::max<std::int64_t>(pick, min_delay.count())};
}

}  // namespace fs::saga_rules
