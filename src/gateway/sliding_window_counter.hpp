#pragma once
// Requests per key over the last window (e.g. per IP per minute), approximated the usual way:
// the current fixed window's count plus the previous window's count weighted by how much of it
// still overlaps the sliding window. Two integers per key; memory bounded by max_keys.
//
// Not thread-safe: one instance per I/O thread (each then sees its own share of the traffic).
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace fs::gateway {

class SlidingWindowCounter {
 public:
  SlidingWindowCounter(std::int64_t window_ns, std::size_t max_keys);

  // Counts one event for `key` at `now_ns` and returns the estimated count in the window
  // ending at `now_ns`, this event included.
  double add(std::string_view key, std::int64_t now_ns);
  // The estimate without counting anything.
  double count(std::string_view key, std::int64_t now_ns) const;
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::int64_t window_index = 0;
    std::uint32_t current = 0;
    std::uint32_t previous = 0;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  double estimate(const Entry& e, std::int64_t now_ns) const;
  void roll(Entry& e, std::int64_t index) const;
  void evict_stale(std::int64_t now_ns);

  std::int64_t window_ns_;
  std::size_t max_keys_;
  std::int64_t last_sweep_index_ = -1;
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> entries_;
};

// The same counter shared by every I/O thread (striped locks): BotScorer uses it so that an IP
// spreading its requests over connections served by different threads is still seen whole.
class SharedSlidingWindowCounter {
 public:
  SharedSlidingWindowCounter(std::int64_t window_ns, std::size_t max_keys);
  double add(std::string_view key, std::int64_t now_ns);
  double count(std::string_view key, std::int64_t now_ns) const;

 private:
  static constexpr std::size_t kStripes = 64;
  struct alignas(64) Stripe {
    Stripe(std::int64_t window_ns, std::size_t max_keys) : counter(window_ns, max_keys) {}
    mutable std::mutex mutex;
    SlidingWindowCounter counter;
  };
  Stripe& stripe(std::string_view key) const;
  std::array<std::unique_ptr<Stripe>, kStripes> stripes_;
};

}  // namespace fs::gateway
