#pragma once
// Injected time: domain code takes a Clock& so tests can drive time by hand.
#include <atomic>
#include <chrono>
#include <cstdint>

namespace fs {

class Clock {
 public:
  using time_point = std::chrono::system_clock::time_point;
  virtual ~Clock() = default;
  // Wall-clock time (for expires_at, JWT exp, RFC 3339 output).
  virtual time_point now() const = 0;
  // Monotonic nanoseconds (for rate limiting and latency).
  virtual std::int64_t steady_ns() const = 0;
};

class SystemClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::system_clock::now(); }
  std::int64_t steady_ns() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  static SystemClock& instance() {
    static SystemClock c;
    return c;
  }
};

// A clock the test moves.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(time_point start = time_point{std::chrono::seconds{1'700'000'000}})
      : wall_ns_(start.time_since_epoch().count()) {}
  time_point now() const override { return time_point{time_point::duration{wall_ns_.load()}}; }
  std::int64_t steady_ns() const override { return steady_ns_.load(); }
  void advance(std::chrono::nanoseconds d) {
    wall_ns_ += std::chrono::duration_cast<time_point::duration>(d).count();
    steady_ns_ += d.count();
  }

 private:
  std::atomic<std::int64_t> wall_ns_;
  std::atomic<std::int64_t> steady_ns_{1'000'000'000};
};

}  // namespace fs
