#include "common/error.hpp"

namespace fs {

std::string_view to_string(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_request:
      return "invalid_request";
    case Errc::unauthorized:
      return "unauthorized";
    case Errc::captcha_required:
      return "captcha_required";
    case Errc::blocked:
      return "blocked";
    case Errc::not_found:
      return "not_found";
    case Errc::queue_timeout:
      return "queue_timeout";
    case Errc::limit_exceeded:
      return "limit_exceeded";
    case Errc::idempotency_conflict:
      return "idempotency_conflict";
    case Errc::invalid_state:
      return "invalid_state";
    case Errc::sale_in_progress:
      return "sale_in_progress";
    case Errc::sold_out:
      return "sold_out";
    case Errc::payload_too_large:
      return "payload_too_large";
    case Errc::sale_not_active:
      return "sale_not_active";
    case Errc::rate_limited:
      return "rate_limited";
    case Errc::overloaded:
      return "overloaded";
    case Errc::unavailable:
      return "unavailable";
    case Errc::timeout:
      return "timeout";
    case Errc::unique_violation:
      return "unique_violation";
    case Errc::serialization_failure:
      return "serialization_failure";
    case Errc::protocol_error:
      return "protocol_error";
    case Errc::backend_error:
      return "backend_error";
    case Errc::cancelled:
      return "cancelled";
    case Errc::internal:
      return "internal";
  }
  return "internal";
}

}  // namespace fs
