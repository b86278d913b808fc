#pragma once
// application/x-www-form-urlencoded as Stripe speaks it: RFC 3986 unreserved characters pass,
// everything else is %XX (space too, so the encoding never depends on '+' handling).
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fs::payments {

using FormFields = std::vector<std::pair<std::string, std::string>>;

std::string percent_encode(std::string_view s);
std::string encode_form(const FormFields& fields);
// Decodes '+' as space and %XX; nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view s);
std::optional<FormFields> decode_form(std::string_view body);
// First value of `name`, or nullopt.
std::optional<std::string> form_value(const FormFields& fields, std::string_view name);

}  // namespace fs::payments
