#include "http/message.hpp"

#include <algorithm>

#include "common/ascii.hpp"
#include "common/json_escape.hpp"

namespace fs::http {

// Names are stored lowercase, but a case-insensitive compare costs nothing here and keeps
// callers that pass "Content-Type" from silently getting an empty answer.
std::string_view Request::header(std::string_view lower_name) const {
  for (const auto& h : headers)
    if (ascii_iequals(h.name, lower_name)) return h.value;
  return {};
}

bool Request::has_header(std::string_view lower_name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const Header& h) { return ascii_iequals(h.name, lower_name); });
}

std::string_view Request::param(std::string_view name) const {
  for (const auto& [key, value] : path_params)
    if (key == name) return value;
  return {};
}

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::error(int status, std::string_view code, std::string_view message) {
  std::string body;
  body.reserve(40 + code.size() + message.size());
  body += R"({"error":{"code":")";
  append_json_escaped(body, code);
  body += R"(","message":")";
  append_json_escaped(body, message);
  body += R"("}})";
  return json(status, std::move(body));
}

Response& Response::with_header(std::string name, std::string value) {
  headers.push_back(Header{std::move(name), std::move(value)});
  return *this;
}

}  // namespace fs::http
