#include "notifications/notification_feed.hpp"

#include <algorithm>

#include "redis/redis_client.hpp"

namespace fs::notifications {
namespace asio = boost::asio;

namespace {

// KEYS[1] dedupe key, KEYS[2] the user's stream; ARGV: ttl seconds, maxlen, type, data.
const redis::Script& push_script() {
  static const redis::Script script(R"LUA(
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return false end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'type', ARGV[3], 'data', ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return id
)LUA");
  return script;
}

}  // namespace

bool is_stream_id(std::string_view id) {
  auto dash = id.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == id.size() || id.size() > 41)
    return false;
  auto digits = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  return digits(id.substr(0, dash)) && digits(id.substr(dash + 1));
}

NotificationFeed::NotificationFeed(redis::Client& client, FeedConfig config)
    : client_(client), config_(std::move(config)) {}

std::string NotificationFeed::stream_key(const std::string& user_id) const {
  return config_.key_prefix + "user:" + user_id;
}

asio::awaitable<Result<std::string>> NotificationFeed::push(std::string user_id, std::string type,
                                                            std::string key, std::string data) {
  std::vector<std::string> keys{config_.key_prefix + "seen:" + type + ":" + key,
                                stream_key(user_id)};
  std::vector<std::string> args{std::to_string(config_.retention.count()),
                                std::to_string(config_.max_per_user), std::move(type),
                                std::move(data)};
  auto r = co_await client_.eval(push_script(), std::move(keys), std::move(args));
  if (!r) co_return std::move(r).error();
  if (r->is_nil()) co_return std::string{};
  co_return std::move(r->str);
}

asio::awaitable<Result<std::vector<Notification>>> NotificationFeed::read(std::string user_id,
                                                                          std::string after_id,
                                                                          std::size_t max) {
  const std::string start =
      after_id.empty() || after_id == "0" || after_id == "0-0" ? "-" : "(" + after_id;
  auto r = co_await client_.command("XRANGE", stream_key(user_id), start, "+", "COUNT",
                                    std::to_string(max));
  if (!r) co_return std::move(r).error();
  std::vector<Notification> out;
  for (const auto& e : r->elements) {
    if (e.elements.size() < 2) continue;
    Notification n;
    n.id = e.elements[0].str;
    const auto& f = e.elements[1].elements;
    for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
      if (f[i].str == "type") n.type = f[i + 1].str;
      if (f[i].str == "data") n.data = f[i + 1].str;
    }
    out.push_back(std::move(n));
  }
  co_return out;
}

asio::awaitable<Result<std::string>> NotificationFeed::last_id(std::string user_id) {
  auto r = co_await client_.command("XREVRANGE", stream_key(user_id), "+", "-", "COUNT", "1");
  if (!r) co_return std::move(r).error();
  if (r->elements.empty() || r->elements[0].elements.empty()) co_return std::string("0-0");
  co_return r->elements[0].elements[0].str;
}

asio::awaitable<Result<bool>> NotificationFeed::marked(std::string flag) {
  auto r = co_await client_.command("EXISTS", config_.key_prefix + flag);
  if (!r) co_return std::move(r).error();
  co_return r->integer > 0;
}

asio::awaitable<Status> NotificationFeed::mark(std::string flag) {
  auto r = co_await client_.command("SET", config_.key_prefix + flag, "1", "EX",
                                    std::to_string(config_.retention.count()));
  if (!r) co_return std::move(r).error();
  co_return Status{};
}

}  // namespace fs::notifications
