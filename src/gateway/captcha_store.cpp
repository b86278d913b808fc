#include "gateway/captcha_store.hpp"

#include <algorithm>

namespace fs::gateway {

namespace asio = boost::asio;

CaptchaStore::CaptchaStore(redis::Client& client, const Clock& clock, std::string key_prefix)
    : client_(client), clock_(clock), prefix_(std::move(key_prefix)) {}

asio::awaitable<Status> CaptchaStore::put(CaptchaChallenge challenge) {
  const auto now_unix =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
  const std::int64_t ttl = challenge.stored.expires_at_unix - now_unix;
  if (ttl <= 0) co_return Error{Errc::invalid_request, "challenge already expired"};
  const std::string key = prefix_ + "c:" + challenge.id;
  const std::string value = challenge.stored.serialize();
  const std::string ttl_text = std::to_string(ttl);
  auto reply = co_await client_.command("SET", key, value, "EX", ttl_text);
  if (!reply) co_return std::move(reply).error();
  co_return Status{};
}

asio::awaitable<Result<std::optional<StoredChallenge>>> CaptchaStore::take(std::string id) {
  const std::string key = prefix_ + "c:" + id;
  auto reply = co_await client_.command("GETDEL", key);
  if (!reply) co_return std::move(reply).error();
  if (reply->is_nil()) co_return std::optional<StoredChallenge>{};
  auto stored = StoredChallenge::parse(reply->str);
  if (!stored) co_return Error{Errc::protocol_error, "malformed captcha challenge in Redis"};
  co_return std::optional<StoredChallenge>{std::move(*stored)};
}

asio::awaitable<Result<CaptchaVerdict>> CaptchaStore::verify(std::string id, std::string answer) {
  auto stored = co_await take(std::move(id));
  if (!stored) co_return std::move(stored).error();
  if (!stored->has_value()) co_return CaptchaVerdict::unknown;
  co_return check_captcha_answer(**stored, answer, clock_);
}

asio::awaitable<Status> CaptchaStore::ban_ip(std::string ip, std::chrono::seconds ttl) {
  const std::string key = prefix_ + "ban:ip:" + ip;
  const std::string ttl_text = std::to_string(std::max<std::int64_t>(1, ttl.count()));
  auto reply = co_await client_.command("SET", key, "1", "EX", ttl_text);
  if (!reply) co_return std::move(reply).error();
  co_return Status{};
}

asio::awaitable<Status> CaptchaStore::ban_user(std::string user_id, std::chrono::seconds ttl) {
  const std::string key = prefix_ + "ban:user:" + user_id;
  const std::string ttl_text = std::to_string(std::max<std::int64_t>(1, ttl.count()));
  auto reply = co_await client_.command("SET", key, "1", "EX", ttl_text);
  if (!reply) co_return std::move(reply).error();
  co_return Status{};
}

asio::awaitable<Result<std::int64_t>> CaptchaStore::key_ttl(std::string key) {
  auto reply = co_await client_.command("TTL", key);
  if (!reply) co_return std::move(reply).error();
  if (reply->type != redis::Reply::Type::integer) {
    co_return Error{Errc::protocol_error, "TTL did not answer an integer"};
  }
  // -2: no key; -1: no expiry (never set by us; treat as a ban of unknown length, 1 s).
  if (reply->integer == -2) co_return std::int64_t{0};
  co_return std::max<std::int64_t>(1, reply->integer);
}

asio::awaitable<Result<std::int64_t>> CaptchaStore::ban_ttl(std::string ip, std::string user_id) {
  auto ip_ttl = co_await key_ttl(prefix_ + "ban:ip:" + ip);
  if (!ip_ttl) co_return std::move(ip_ttl).error();
  if (user_id.empty()) co_return *ip_ttl;
  auto user_ttl = co_await key_ttl(prefix_ + "ban:user:" + user_id);
  if (!user_ttl) co_return std::move(user_ttl).error();
  co_return std::max(*ip_ttl, *user_ttl);
}

}  // namespace fs::gateway
