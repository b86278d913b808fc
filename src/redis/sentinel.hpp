#pragma once
// Redis Sentinel support (seed flow 9): the pure parts of following a master through its
// sentinels. A client configured with sentinels asks them for the master's address
// (SENTINEL get-master-addr-by-name), checks with ROLE that the server it reached is a master,
// and asks again whenever its connection is lost, a reply is overdue or Redis answers READONLY.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace fs::redis {

struct Reply;

struct Address {
  std::string host;
  std::uint16_t port = 0;
  std::string to_string() const;
  bool operator==(const Address&) const = default;
};

// "host:port", "[v6]:port". Errors: invalid_request.
Result<Address> parse_address(std::string_view text);
// Comma-separated addresses ("h:p,h:p,h:p"); blanks around entries are ignored, none is an error.
Result<std::vector<Address>> parse_address_list(std::string_view text);

struct SentinelConfig {
  std::vector<Address> sentinels;  // empty: no sentinel, connect to host:port
  std::string master_name = "flashsale";
  bool enabled() const { return !sentinels.empty(); }
};

// The order in which to ask the sentinels: the one that answered last first, then the others in
// configuration order after it. A sentinel that fails moves the preference to the next one, so a
// dead sentinel costs one connect timeout once, not on every resolution.
class SentinelRotation {
 public:
  explicit SentinelRotation(std::size_t count) : count_(count) {}
  std::vector<std::size_t> order() const;
  void answered(std::size_t i) { preferred_ = i % (count_ ? count_ : 1); }
  void failed(std::size_t i) {
    if (count_ && i == preferred_) preferred_ = (i + 1) % count_;
  }
  std::size_t preferred() const { return preferred_; }

 private:
  std::size_t count_;
  std::size_t preferred_ = 0;
};

// The reply of SENTINEL get-master-addr-by-name: [host, port]. A nil reply (unknown master name)
// is Errc::not_found.
Result<Address> master_address_from_reply(const Reply& reply);

// The reply of ROLE: true when its first element is "master".
Result<bool> role_is_master(const Reply& reply);

// True for an error reply that means "this server is not (or no longer) the master".
bool means_not_master(std::string_view error_message);

}  // namespace fs::redis
