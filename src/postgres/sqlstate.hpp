#pragma once
// How PostgreSQL errors become fs::Errc, kept apart from libpq so it can be unit-tested.
#include <string_view>

#include "common/error.hpp"

namespace fs::pg {

// The Errc a retry policy switches on for a five-character SQLSTATE (PG_DIAG_SQLSTATE):
// 23505 → unique_violation; 40001, 40P01 → serialization_failure; class 08 and 57P01-57P03
// (the server is going away) → unavailable; anything else → backend_error.
Errc errc_from_sqlstate(std::string_view sqlstate) noexcept;

// "SQLSTATE: message" for Errc::backend_error messages.
Error error_from_sqlstate(std::string_view sqlstate, std::string_view message);

}  // namespace fs::pg
