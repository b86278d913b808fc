#pragma once
// Idempotency-Key records in Redis (seed flow 7), per user and key, kept 24 hours:
// the first request claims the key (in-flight marker), and its final answer is stored so that
// a repeat with the same request gets the same status and body; a different request, or one
// arriving while the first is in flight, is a conflict.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>

#include "common/result.hpp"
#include "redis/redis_client.hpp"

namespace fs::reservation {

// How long a key's record is kept (api.md: 24 hours).
inline constexpr std::chrono::seconds kIdempotencyKeep = std::chrono::hours{24};

struct IdempotencyClaim {
  enum class Kind { claimed, in_flight, mismatch, replay };
  Kind kind = Kind::claimed;
  int status = 0;    // replay
  std::string body;  // replay
};

class IdempotencyStore {
 public:
  explicit IdempotencyStore(redis::Client& redis, std::chrono::seconds keep = kIdempotencyKeep,
                            std::chrono::seconds in_flight_ttl = std::chrono::seconds{60})
      : redis_(redis), keep_(keep), in_flight_ttl_(in_flight_ttl) {}

  boost::asio::awaitable<Result<IdempotencyClaim>> claim(const std::string& scope,
                                                         const std::string& key,
                                                         const std::string& request_fingerprint);
  boost::asio::awaitable<Status> complete(const std::string& scope, const std::string& key,
                                          const std::string& request_fingerprint, int status,
                                          const std::string& body);
  // Writes a done record unless the key already has one (SET NX), kept for `ttl`: how the
  // StockReconciler puts back, from the ledger, records a Redis failover lost.
  boost::asio::awaitable<Status> restore(const std::string& scope, const std::string& key,
                                         const std::string& request_fingerprint, int status,
                                         const std::string& body, std::chrono::seconds ttl);
  // The first request failed in a retryable way (5xx): forget the key so a retry runs again.
  boost::asio::awaitable<Status> release(const std::string& scope, const std::string& key);

 private:
  redis::Client& redis_;
  std::chrono::seconds keep_;
  std::chrono::seconds in_flight_ttl_;
};

// SHA-256 hex of a request's canonical form.
std::string fingerprint_hash(const std::string& canonical);

}  // namespace fs::reservation
