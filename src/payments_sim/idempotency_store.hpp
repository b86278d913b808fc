#pragma once
// Stripe's idempotency rules as a pure, clock-driven table (not thread-safe; the simulator
// guards it). A key's first request reserves it; same key + same request fingerprint replays
// the stored reply; a different fingerprint is a conflict; a key still in flight is busy.
// Entries live `ttl` (24 h) from the first request.
#include <chrono>
#include <string>
#include <unordered_map>

#include "common/clock.hpp"

namespace fs::payments_sim {

struct StoredReply {
  int status = 0;
  std::string body;
};

class IdempotencyStore {
 public:
  enum class Outcome { fresh, replay, in_flight, mismatch };
  struct Begin {
    Outcome outcome = Outcome::fresh;
    StoredReply reply;  // for replay
  };

  explicit IdempotencyStore(const Clock& clock, std::chrono::seconds ttl = std::chrono::hours{24});

  // `fingerprint` identifies the request (method, path, parameters).
  Begin begin(const std::string& key, const std::string& fingerprint);
  // Stores the reply that later requests with this key replay.
  void finish(const std::string& key, StoredReply reply);
  // Forgets a reserved key whose request never executed (e.g. failed before charging).
  void abandon(const std::string& key);
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string fingerprint;
    Clock::time_point created;
    bool done = false;
    StoredReply reply;
  };
  void expire(Clock::time_point now);

  const Clock& clock_;
  std::chrono::seconds ttl_;
  std::unordered_map<std::string, Entry> entries_;
  Clock::time_point next_sweep_{};
};

}  // namespace fs::payments_sim
