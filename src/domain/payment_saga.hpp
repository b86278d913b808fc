#pragma once
// The payment saga's rules, free of I/O (seed flows 2, 3, 4, 7): which transitions are allowed,
// the idempotency key of a reservation's charge, how a provider answer is classified, and the
// retry schedule (exponential backoff with full jitter) for transient provider errors.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/random.hpp"
#include "common/result.hpp"
#include "domain/reservation.hpp"

namespace fs::saga_rules {

// One key per reservation, never one per retry: a retry, a redelivery or a resumed saga replays
// the first charge at the provider instead of making a second one.
std::string charge_key(std::string_view reservation_id);
std::string refund_key(std::string_view reservation_id);

// PENDING -> PAYING is allowed while PENDING and not expired (the database re-checks both).
bool may_start_payment(const Reservation& r, SysTime now) noexcept;

// A settled reservation (PAID, FAILED, EXPIRED): a redelivered event is acked and ignored.
bool is_final(ReservationStatus s) noexcept;

// What the saga does with one answer of PaymentProvider::create_payment_intent.
enum class ChargeVerdict {
  succeeded,  // PAYING -> PAID with an order
  declined,   // compensation: PAYING -> FAILED, units back
  rejected,   // the provider refused the request itself (4xx): nothing was charged -> FAILED
  retry,      // outcome unknown or transient (timeout, 5xx, key in flight): same key again
};
struct ChargeDecision {
  ChargeVerdict verdict = ChargeVerdict::retry;
  std::string failure_code;  // for declined / rejected
};
// `declined`/`decline_code`/`error_code` of the intent, or the error code of the call.
ChargeDecision classify_charge(bool ok, Errc error, bool declined, std::string_view decline_code,
                               std::string_view error_code);

// Exponential backoff with full jitter: attempt n (1-based) waits a uniformly random time in
// [0, min(max_delay, initial * 2^(n-1))], never less than min_delay. Randomness is injected.
struct RetryPolicy {
  std::chrono::milliseconds min_delay{20};
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max_delay{5000};
  // A saga attempt gives up (leaving the reservation PAYING, to be resumed by the next claim)
  // once this much time has passed since its first charge attempt.
  std::chrono::milliseconds give_up_after{60'000};

  std::chrono::milliseconds delay(int attempt, Random& random) const;
  // True when another attempt may start `elapsed` after the first one.
  bool may_retry(std::chrono::milliseconds elapsed) const noexcept {
    return elapsed < give_up_after;
  }
};

}  // namespace fs::saga_rules
