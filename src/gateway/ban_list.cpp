#include "gateway/ban_list.hpp"

#include <algorithm>
#include <mutex>

namespace fs::gateway {

std::string BanList::key(std::string_view kind, std::string_view value) {
  std::string k;
  k.reserve(kind.size() + 1 + value.size());
  k.append(kind).append(":").append(value);
  return k;
}

void BanList::ban(std::string_view kind, std::string_view value, std::int64_t expires_at_unix) {
  std::unique_lock lock(mutex_);
  auto& e = bans_[key(kind, value)];
  e = std::max(e, expires_at_unix);
  size_.store(bans_.size());
}

std::int64_t BanList::remaining(std::string_view ip, std::string_view user_id,
                                std::int64_t now_unix) const {
  if (size_.load(std::memory_order_relaxed) == 0) return 0;
  std::shared_lock lock(mutex_);
  std::int64_t until = 0;
  if (auto it = bans_.find(key("ip", ip)); it != bans_.end()) until = it->second;
  if (!user_id.empty())
    if (auto it = bans_.find(key("user", user_id)); it != bans_.end())
      until = std::max(until, it->second);
  return until > now_unix ? until - now_unix : 0;
}

bool BanList::lift(std::string_view kind, std::string_view value) {
  std::unique_lock lock(mutex_);
  const bool erased = bans_.erase(key(kind, value)) > 0;
  size_.store(bans_.size());
  return erased;
}

std::vector<BanEntry> BanList::list(std::int64_t now_unix) {
  std::vector<BanEntry> out;
  std::unique_lock lock(mutex_);
  for (auto it = bans_.begin(); it != bans_.end();) {
    if (it->second <= now_unix) {
      it = bans_.erase(it);
      continue;
    }
    const auto colon = it->first.find(':');
    out.push_back({it->first.substr(0, colon), it->first.substr(colon + 1), it->second});
    ++it;
  }
  size_.store(bans_.size());
  return out;
}

}  // namespace fs::gateway
