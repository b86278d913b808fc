#include "redis/sentinel.hpp"

#include "common/parse_int.hpp"
#include "redis/redis_client.hpp"

namespace fs::redis {

std::string Address::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

Result<Address> parse_address(std::string_view text) {
  text = trim(text);
  const auto bad = [&](const char* why) {
    return Error{Errc::invalid_request,
                 "bad redis address '" + std::string(text) + "': " + why + " (want host:port)"};
  };
  Address a;
  std::string_view port;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return bad("unterminated [ipv6]");
    a.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("no port");
    if (text.find(':') != colon) return bad("IPv6 hosts go in brackets");
    a.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
  }
  if (a.host.empty()) return bad("no host");
  unsigned value = 0;
  if (!parse_int(port, value) || value == 0 || value > 65535) return bad("port out of range");
  a.port = static_cast<std::uint16_t>(value);
  return a;
}

Result<std::vector<Address>> parse_address_list(std::string_view text) {
  std::vector<Address> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    auto item = trim(text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (!item.empty()) {
      auto a = parse_address(item);
      if (!a) return std::move(a).error();
      out.push_back(std::move(*a));
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (out.empty()) return Error{Errc::invalid_request, "no redis address given"};
  return out;
}

std::vector<std::size_t> SentinelRotation::order() const {
  std::vector<std::size_t> out;
  out.reserve(count_);
  for (std::size_t k = 0; k < count_; ++k) out.push_back((preferred_ + k) % count_);
  return out;
}

Result<Address> master_address_from_reply(const Reply& reply) {
  if (reply.is_nil()) return Error{Errc::not_found, "the sentinel does not know this master name"};
  if (reply.type != Reply::Type::array || reply.elements.size() != 2 ||
      reply.elements[0].type != Reply::Type::string ||
      reply.elements[1].type != Reply::Type::string)
    return Error{Errc::protocol_error, "unexpected reply to SENTINEL get-master-addr-by-name"};
  Address a;
  a.host = reply.elements[0].str;
  unsigned port = 0;
  if (a.host.empty() || !parse_int(std::string_view(reply.elements[1].str), port) || port == 0 ||
      port > 65535)
    return Error{Errc::protocol_error, "bad master address from sentinel"};
  a.port = static_cast<std::uint16_t>(port);
  return a;
}

Result<bool> role_is_master(const Reply& reply) {
  if (reply.type != Reply::Type::array || reply.elements.empty() ||
      (reply.elements[0].type != Reply::Type::string &&
       reply.elements[0].type != Reply::Type::status))
    return Error{Errc::protocol_error, "unexpected reply to ROLE"};
  return reply.elements[0].str == "master";
}

bool means_not_master(std::string_view error_message) {
  return error_message.starts_with("READONLY") || error_message.starts_with("MASTERDOWN") ||
         error_message.starts_with("LOADING");
}

}  // namespace fs::redis
