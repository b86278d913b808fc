#pragma once
// The in-app push channel (seed flow 12): one Redis stream per user, "<prefix>user:<user_id>",
// holding that user's notifications in order. Stream entry ids are the SSE `id:` lines, so a
// client reconnecting with Last-Event-ID resumes exactly after the last one it saw, served by
// any instance (the feed lives in Redis, not in a process). Retention is bounded: at most
// `max_per_user` entries (MAXLEN ~) and the whole stream expires `retention` after its last
// notification. A push is deduplicated by (type, key) for `retention` (each user-facing event
// type happens at most once per reservation), so redelivered events never notify twice.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace fs::redis {
class Client;
}

namespace fs::notifications {

struct Notification {
  std::string id;    // stream entry id: the SSE event id
  std::string type;  // events::types::*
  std::string data;  // the reservation / order JSON
};

struct FeedConfig {
  std::string key_prefix = "notify:";
  std::size_t max_per_user = 1000;
  std::chrono::seconds retention{24 * 3600};
};

class NotificationFeed {
 public:
  // `client` must outlive the feed; one feed per thread (as the client).
  NotificationFeed(redis::Client& client, FeedConfig config);

  // Appends unless (type, key) was pushed before. Returns the entry id, or "" for a duplicate.
  boost::asio::awaitable<Result<std::string>> push(std::string user_id, std::string type,
                                                   std::string key, std::string data);

  // Up to `max` notifications after `after_id` ("" or "0": from the oldest retained), in order.
  boost::asio::awaitable<Result<std::vector<Notification>>> read(std::string user_id,
                                                                 std::string after_id,
                                                                 std::size_t max);

  // The id of the user's newest notification ("0-0" when none): where a fresh client starts.
  boost::asio::awaitable<Result<std::string>> last_id(std::string user_id);

  std::string stream_key(const std::string& user_id) const;

  // A flag kept for `retention` (e.g. "mailed:<type>:<key>"): whether it is set, and setting it.
  boost::asio::awaitable<Result<bool>> marked(std::string flag);
  boost::asio::awaitable<Status> mark(std::string flag);

 private:
  redis::Client& client_;
  FeedConfig config_;
};

// True when `id` looks like a stream entry id ("<ms>-<seq>"): Last-Event-ID is client input.
bool is_stream_id(std::string_view id);

}  // namespace fs::notifications
