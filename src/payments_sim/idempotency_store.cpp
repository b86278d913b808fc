#include "payments_sim/idempotency_store.hpp"

namespace fs::payments_sim {

IdempotencyStore::IdempotencyStore(const Clock& clock, std::chrono::seconds ttl)
    : clock_(clock), ttl_(ttl) {}

IdempotencyStore::Begin IdempotencyStore::begin(const std::string& key,
                                                const std::string& fingerprint) {
  const auto now = clock_.now();
  expire(now);
  auto it = entries_.find(key);
  if (it != entries_.end() && now - it->second.created >= ttl_) {
    entries_.erase(it);
    it = entries_.end();
  }
  if (it == entries_.end()) {
    entries_.emplace(key, Entry{fingerprint, now, false, {}});
    return Begin{Outcome::fresh, {}};
  }
  const Entry& e = it->second;
  if (e.fingerprint != fingerprint) return Begin{Outcome::mismatch, {}};
  if (!e.done) return Begin{Outcome::in_flight, {}};
  return Begin{Outcome::replay, e.reply};
}

void IdempotencyStore::finish(const std::string& key, StoredReply reply) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  it->second.done = true;
  it->second.reply = std::move(reply);
}

void IdempotencyStore::abandon(const std::string& key) { entries_.erase(key); }

// Sweeps at most once a minute so that a busy simulator does not scan on every request.
void IdempotencyStore::expire(Clock::time_point now) {
  if (now < next_sweep_) return;
  next_sweep_ = now + std::chrono::minutes{1};
  std::erase_if(entries_,
                [&](const auto& kv) { return kv.second.done && now - kv.second.created >= ttl_; });
}

}  // namespace fs::payments_sim
