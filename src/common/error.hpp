#pragma once
// The one error model of flashsale: expected failures are values of type Error, carried in
// Result<T>. Callers switch on Errc; exceptions are reserved for start-up failures and bugs.
#include <string>
#include <string_view>

namespace fs {

enum class Errc {
  // Client-side outcomes (map 1:1 onto api.md error codes).
  invalid_request,
  unauthorized,
  captcha_required,
  blocked,
  not_found,
  queue_timeout,
  limit_exceeded,
  idempotency_conflict,
  invalid_state,
  sale_in_progress,
  sold_out,
  payload_too_large,
  sale_not_active,
  rate_limited,
  overloaded,
  // Backend outcomes a retry policy can switch on.
  unavailable,            // backend down / connection broken; safe to retry elsewhere
  timeout,                // backend did not answer in time; outcome unknown
  unique_violation,       // PostgreSQL 23505
  serialization_failure,  // PostgreSQL 40001 / 40P01: retry the transaction
  protocol_error,         // malformed reply from a backend
  backend_error,          // backend answered with an error (e.g. Redis -ERR, SQL error)
  cancelled,
  internal,
};

std::string_view to_string(Errc code) noexcept;

struct Error {
  Errc code = Errc::internal;
  std::string message;

  Error() = default;
  Error(Errc c, std::string msg = {})
      : code(c), message(std::move(msg)) {}  // NOLINT(google-explicit-constructor)

  friend bool operator==(const Error& e, Errc c) { return e.code == c; }
};

}  // namespace fs
