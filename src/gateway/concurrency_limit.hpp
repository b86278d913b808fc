#pragma once
// The service layer's concurrency limit (flow 8): at most `limit` reservations in flight in the
// process; the next one is refused (503 overloaded) rather than queued behind them.
#include <atomic>
#include <cstdint>
#include <optional>
#include <utility>

namespace fs::gateway {

class ConcurrencyLimit {
 public:
  explicit ConcurrencyLimit(std::int64_t limit) : limit_(limit) {}

  // Releases its slot when destroyed.
  class Permit {
   public:
    Permit() = default;
    explicit Permit(ConcurrencyLimit* owner) : owner_(owner) {}
    Permit(Permit&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)) {}
    Permit& operator=(Permit&& o) noexcept {
      if (this != &o) {
        release();
        owner_ = std::exchange(o.owner_, nullptr);
      }
      return *this;
    }
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit() { release(); }
    void release() {
      if (owner_) owner_->in_flight_.fetch_sub(1, std::memory_order_relaxed);
      owner_ = nullptr;
    }

   private:
    ConcurrencyLimit* owner_ = nullptr;
  };

  std::optional<Permit> try_acquire() {
    if (in_flight_.fetch_add(1, std::memory_order_relaxed) >= limit_) {
      in_flight_.fetch_sub(1, std::memory_order_relaxed);
      return std::nullopt;
    }
    return Permit(this);
  }
  std::int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  std::int64_t limit() const { return limit_; }

 private:
  std::int64_t limit_;
  std::atomic<std::int64_t> in_flight_{0};
};

}  // namespace fs::gateway
