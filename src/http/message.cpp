#include "http/message.hpp"

#include <algorithm>

#include "common/ascii.hpp"

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

void append_json_escaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t plain = 0;  // start of the run of characters copied as they are
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u >= 0x20 && u != '"' && u != '\\') continue;  // UTF-8 multibyte sequences included
    out.append(s.data() + plain, i - plain);
    plain = i + 1;
    switch (u) {
      case '"':
        out.append("\\\"", 2);
        break;
      case '\\':
        out.append("\\\\", 2);
        break;
      case '\b':
        out.append("\\b", 2);
        break;
      case '\f':
        out.append("\\f", 2);
        break;
      case '\n':
        out.append("\\n", 2);
        break;
      case '\r':
        out.append("\\r", 2);
        break;
      case '\t':
        out.append("\\t", 2);
        break;
      default: {
        const char u4[] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 0xF]};
        out.append(u4, sizeof u4);
      }
    }
  }
  out.append(s.data() + plain, s.size() - plain);
}

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  append_json_escaped(out, s);
  return out;
}

}  // namespace fs::http
