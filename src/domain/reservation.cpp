#include "domain/reservation.hpp"

namespace fs {

std::string_view to_string(ReservationStatus s) noexcept {
  switch (s) {
    case ReservationStatus::pending:
      return "PENDING";
    case ReservationStatus::paying:
      return "PAYING";
    case ReservationStatus::paid:
      return "PAID";
    case ReservationStatus::failed:
      return "FAILED";
    case ReservationStatus::expired:
      return "EXPIRED";
  }
  return "PENDING";
}

std::optional<ReservationStatus> parse_reservation_status(std::string_view s) noexcept {
  if (s == "PENDING") return ReservationStatus::pending;
  if (s == "PAYING") return ReservationStatus::paying;
  if (s == "PAID") return ReservationStatus::paid;
  if (s == "FAILED") return ReservationStatus::failed;
  if (s == "EXPIRED") return ReservationStatus::expired;
  return std::nullopt;
}

bool valid_uuid(std::string_view s) noexcept {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

}  // namespace fs
