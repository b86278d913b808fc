#pragma once
// RFC 3339 UTC timestamps ("2026-11-24T12:00:00.123Z"), the API's only time format.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace fs {

using SysTime = std::chrono::system_clock::time_point;

std::string format_rfc3339(SysTime t);  // millisecond precision, always 'Z'
// The same, appended to `out` (24 characters).
void append_rfc3339(std::string& out, SysTime t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)"; nullopt when malformed.
std::optional<SysTime> parse_rfc3339(std::string_view s);
// PostgreSQL's text output of timestamptz with TimeZone=UTC ("2026-11-24 12:00:00.123+00").
std::optional<SysTime> parse_pg_timestamp(std::string_view s);
// A time as PostgreSQL input text (RFC 3339 works for timestamptz).
inline std::string to_pg_timestamp(SysTime t) { return format_rfc3339(t); }

}  // namespace fs
