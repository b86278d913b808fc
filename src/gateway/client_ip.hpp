#pragma once
// Which address a request counts against: the socket peer, unless the peer is one of our own
// proxies (a configured trusted CIDR), then the right-most X-Forwarded-For entry that is not a
// trusted proxy. Entries left of that one are written by the client and cannot be believed.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace fs::gateway {

struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // IPv4 uses the first 4

  // Accepts "1.2.3.4", "1.2.3.4:80", "::1", "[::1]", "[::1]:80"; IPv4-mapped IPv6
  // (::ffff:1.2.3.4) becomes IPv4 so one client has one key.
  static std::optional<IpAddress> parse(std::string_view text);
  std::string to_string() const;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

class Cidr {
 public:
  // "10.0.0.0/8", "fd00::/8", or a bare address (a /32 or /128).
  static std::optional<Cidr> parse(std::string_view text);
  bool contains(const IpAddress& address) const;

 private:
  IpAddress network_;
  int prefix_bits_ = 0;
};

class ClientIpResolver {
 public:
  ClientIpResolver() = default;
  explicit ClientIpResolver(std::vector<Cidr> trusted_proxies)
      : trusted_(std::move(trusted_proxies)) {}
  // Errc::invalid_request naming the first unparsable entry.
  static Result<ClientIpResolver> from_strings(const std::vector<std::string>& trusted_proxies);

  bool trusted(const IpAddress& address) const;

  // `peer` is the socket's remote address; `forwarded_for` the X-Forwarded-For value (several
  // header lines joined with ","), empty when absent. A malformed entry in the part we would
  // have to trust makes the header worthless: the answer is then the peer.
  std::string resolve(std::string_view peer, std::string_view forwarded_for) const;

 private:
  std::vector<Cidr> trusted_;
};

}  // namespace fs::gateway
