#pragma once
// Bans set by a failed CAPTCHA (IP and user), kept in process for an O(1) check on every
// request. Shared by all I/O threads. In distributed mode the gateway also writes and reads
// them in Redis (CaptchaStore) so every instance enforces them.
#include <atomic>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace fs::gateway {

struct BanEntry {
  std::string kind;  // "ip" or "user"
  std::string value;
  std::int64_t expires_at_unix = 0;
};

class BanList {
 public:
  void ban(std::string_view kind, std::string_view value, std::int64_t expires_at_unix);
  // Seconds the longer of the IP's and the user's bans still runs at `now_unix` (0: none).
  std::int64_t remaining(std::string_view ip, std::string_view user_id,
                         std::int64_t now_unix) const;
  bool lift(std::string_view kind, std::string_view value);
  std::vector<BanEntry> list(std::int64_t now_unix);  // live bans only (drops expired ones)

 private:
  static std::string key(std::string_view kind, std::string_view value);
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, std::int64_t> bans_;  // "ip:1.2.3.4" -> expiry
  std::atomic<std::size_t> size_{0};                    // lock-free fast path when empty
};

}  // namespace fs::gateway
