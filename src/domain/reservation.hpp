#pragma once
// A reservation: units of stock held for one user until paid, failed or expired.
// PENDING → PAYING → PAID | FAILED, and PENDING → EXPIRED; every transition is conditional on
// the current status in PostgreSQL, so one transition wins a race (invariant 8).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "domain/time_format.hpp"

namespace fs {

enum class ReservationStatus { pending, paying, paid, failed, expired };
std::string_view to_string(ReservationStatus s) noexcept;
std::optional<ReservationStatus> parse_reservation_status(std::string_view s) noexcept;

struct Reservation {
  std::string reservation_id;  // UUID text
  std::string product_id;
  std::int64_t generation = 1;
  std::string user_id;
  int quantity = 1;
  ReservationStatus status = ReservationStatus::pending;
  std::int64_t amount_cents = 0;
  std::string currency;
  int shard = 0;
  std::optional<std::string> idempotency_key;
  // With idempotency_key: the fingerprint of the request the key was first used with.
  std::optional<std::string> request_fingerprint;
  SysTime expires_at{};
  SysTime created_at{};
  std::optional<std::string> order_id;
  std::optional<std::string> payment_id;
  std::optional<std::string> failure_code;
};

// True for a canonical lowercase/uppercase 8-4-4-4-12 hex UUID.
bool valid_uuid(std::string_view s) noexcept;

}  // namespace fs
