#include "gateway/client_ip.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace fs::gateway {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool valid_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  unsigned port = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  return ec == std::errc{} && end == s.data() + s.size() && port <= 65535;
}

constexpr std::array<std::uint8_t, 12> kV4MappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  text = trim(text);
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::string_view host = text;
  if (host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    auto rest = host.substr(close + 1);
    if (!rest.empty() && !(rest.front() == ':' && valid_port(rest.substr(1)))) return std::nullopt;
    host = host.substr(1, close - 1);
  } else if (std::count(host.begin(), host.end(), ':') == 1) {  // IPv4 with a port
    auto colon = host.find(':');
    if (!valid_port(host.substr(colon + 1))) return std::nullopt;
    host = host.substr(0, colon);
  }
  char buf[65];
  std::memcpy(buf, host.data(), host.size());
  buf[host.size()] = '\0';

  IpAddress out;
  if (inet_pton(AF_INET, buf, out.bytes.data()) == 1) return out;
  if (inet_pton(AF_INET6, buf, out.bytes.data()) == 1) {
    if (std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), out.bytes.begin())) {
      IpAddress v4;
      std::copy(out.bytes.begin() + 12, out.bytes.end(), v4.bytes.begin());
      return v4;
    }
    out.v6 = true;
    return out;
  }
  return std::nullopt;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  text = trim(text);
  auto slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  // IpAddress::parse turns ::ffff:a.b.c.d into IPv4, which would make an IPv6 prefix length
  // wrong: a range whose written family differs from the parsed one is refused.
  if (!address) return std::nullopt;
  const bool written_v6 = text.substr(0, slash).find(':') != std::string_view::npos;
  if (written_v6 != address->v6) return std::nullopt;
  const int max_bits = address->v6 ? 128 : 32;
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || bits < 0 ||
        bits > max_bits) {
      return std::nullopt;
    }
  }
  Cidr cidr;
  cidr.network_ = *address;
  cidr.prefix_bits_ = bits;
  return cidr;
}

bool Cidr::contains(const IpAddress& address) const {
  if (address.v6 != network_.v6) return false;
  int bits = prefix_bits_;
  for (std::size_t i = 0; bits > 0; ++i, bits -= 8) {
    const std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((address.bytes[i] & mask) != (network_.bytes[i] & mask)) return false;
  }
  return true;
}

Result<ClientIpResolver> ClientIpResolver::from_strings(
    const std::vector<std::string>& trusted_proxies) {
  std::vector<Cidr> cidrs;
  for (const auto& text : trusted_proxies) {
    auto cidr = Cidr::parse(text);
    if (!cidr) return Error{Errc::invalid_request, "bad trusted proxy CIDR: " + text};
    cidrs.push_back(*cidr);
  }
  return ClientIpResolver(std::move(cidrs));
}

bool ClientIpResolver::trusted(const IpAddress& address) const {
  return std::any_of(trusted_.begin(), trusted_.end(),
                     [&](const Cidr& c) { return c.contains(address); });
}

std::string ClientIpResolver::resolve(std::string_view peer, std::string_view forwarded_for) const {
  auto peer_address = IpAddress::parse(peer);
  if (!peer_address) return std::string(trim(peer));
  const std::string peer_text = peer_address->to_string();
  if (!trusted(*peer_address) || trim(forwarded_for).empty()) return peer_text;

  std::optional<IpAddress> leftmost;
  std::string_view rest = forwarded_for;
  while (true) {
    auto comma = rest.rfind(',');
    auto entry = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
    auto address = IpAddress::parse(entry);
    if (!address) return peer_text;
    if (!trusted(*address)) return address->to_string();
    leftmost = address;
    if (comma == std::string_view::npos) break;
    rest = rest.substr(0, comma);
  }
  // Every hop is one of ours: the request started inside; the first hop is the best answer.
  return leftmost->to_string();
}

}  // namespace fs::gateway
