#pragma once
// CAPTCHA challenges and bans in Redis, so that every instance sees the same ones: a challenge
// solved (or failed) on one instance cannot be retried on another, and a ban set by one
// instance is enforced by all. Keys expire on their own (EX), nothing needs cleaning.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "gateway/captcha.hpp"
#include "redis/redis_client.hpp"

namespace fs::gateway {

class CaptchaStore {
 public:
  // `client` and `clock` must outlive the store; the store is used from the client's executor.
  CaptchaStore(redis::Client& client, const Clock& clock, std::string key_prefix = "fs:captcha:");

  // SET <prefix>c:<id> <salt:hash:expiry> EX <seconds left until the challenge expires>.
  boost::asio::awaitable<Status> put(CaptchaChallenge challenge);
  // GETDEL: the first caller gets the challenge, every later one (any instance) gets nullopt.
  boost::asio::awaitable<Result<std::optional<StoredChallenge>>> take(std::string id);
  // take() + check_captcha_answer(); CaptchaVerdict::unknown for a missing or used challenge.
  boost::asio::awaitable<Result<CaptchaVerdict>> verify(std::string id, std::string answer);

  // SET <prefix>ban:ip:<ip> 1 EX <ttl> (and the same for a user).
  boost::asio::awaitable<Status> ban_ip(std::string ip, std::chrono::seconds ttl);
  boost::asio::awaitable<Status> ban_user(std::string user_id, std::chrono::seconds ttl);
  // Seconds the longer of the two bans still runs (0: neither is banned); an empty user_id
  // checks the IP only. The value is what 403 blocked sends as Retry-After.
  boost::asio::awaitable<Result<std::int64_t>> ban_ttl(std::string ip, std::string user_id);

 private:
  boost::asio::awaitable<Result<std::int64_t>> key_ttl(std::string key);

  redis::Client& client_;
  const Clock& clock_;
  std::string prefix_;
};

}  // namespace fs::gateway
