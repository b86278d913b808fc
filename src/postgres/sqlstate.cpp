#include "postgres/sqlstate.hpp"

#include <string>

namespace fs::pg {

Errc errc_from_sqlstate(std::string_view sqlstate) noexcept {
  if (sqlstate == "23505") return Errc::unique_violation;
  if (sqlstate == "40001" || sqlstate == "40P01") return Errc::serialization_failure;
  // 08xxx: connection exceptions; 57P01-57P03: admin/crash shutdown, cannot connect now.
  if (sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
      sqlstate == "57P03") {
    return Errc::unavailable;
  }
  return Errc::backend_error;
}

Error error_from_sqlstate(std::string_view sqlstate, std::string_view message) {
  std::string text;
  text.reserve(sqlstate.size() + 2 + message.size());
  text.append(sqlstate.empty() ? std::string_view{"?????"} : sqlstate);
  text.append(": ");
  text.append(message);
  return Error{errc_from_sqlstate(sqlstate), std::move(text)};
}

}  // namespace fs::pg
