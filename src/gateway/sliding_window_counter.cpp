#include "gateway/sliding_window_counter.hpp"

#include <algorithm>
#include <stdexcept>

namespace fs::gateway {

SlidingWindowCounter::SlidingWindowCounter(std::int64_t window_ns, std::size_t max_keys)
    : window_ns_(window_ns), max_keys_(std::max<std::size_t>(1, max_keys)) {
  if (window_ns <= 0) throw std::invalid_argument("SlidingWindowCounter: window must be > 0");
}

void SlidingWindowCounter::roll(Entry& e, std::int64_t index) const {
  if (index == e.window_index) return;
  e.previous = index == e.window_index + 1 ? e.current : 0;
  e.current = 0;
  e.window_index = index;
}

double SlidingWindowCounter::estimate(const Entry& e, std::int64_t now_ns) const {
  Entry rolled = e;
  const std::int64_t index = now_ns / window_ns_;
  if (index > rolled.window_index) roll(rolled, index);
  const double into_window = static_cast<double>(now_ns % window_ns_) / window_ns_;
  return rolled.current + rolled.previous * (1.0 - into_window);
}

void SlidingWindowCounter::evict_stale(std::int64_t now_ns) {
  // A key untouched for two whole windows counts zero: forgetting it loses nothing.
  const std::int64_t index = now_ns / window_ns_;
  std::erase_if(entries_, [&](const auto& kv) { return kv.second.window_index + 1 < index; });
}

double SlidingWindowCounter::add(std::string_view key, std::int64_t now_ns) {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= max_keys_) {
      // A full sweep is O(keys): at most once per window, so the cost stays amortized O(1).
      if (now_ns / window_ns_ != last_sweep_index_) {
        last_sweep_index_ = now_ns / window_ns_;
        evict_stale(now_ns);
      }
      // Still full of active keys: forget an arbitrary one rather than grow without bound.
      if (entries_.size() >= max_keys_) entries_.erase(entries_.begin());
    }
    it = entries_.emplace(std::string(key), Entry{now_ns / window_ns_, 0, 0}).first;
  }
  const std::int64_t index = now_ns / window_ns_;
  if (index > it->second.window_index) roll(it->second, index);
  ++it->second.current;
  return estimate(it->second, now_ns);
}

double SlidingWindowCounter::count(std::string_view key, std::int64_t now_ns) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? 0.0 : estimate(it->second, now_ns);
}

SharedSlidingWindowCounter::SharedSlidingWindowCounter(std::int64_t window_ns,
                                                       std::size_t max_keys) {
  const std::size_t per_stripe = std::max<std::size_t>(1, max_keys / kStripes);
  for (auto& s : stripes_) s = std::make_unique<Stripe>(window_ns, per_stripe);
}

SharedSlidingWindowCounter::Stripe& SharedSlidingWindowCounter::stripe(std::string_view key) const {
  return *stripes_[std::hash<std::string_view>{}(key) % kStripes];
}

double SharedSlidingWindowCounter::add(std::string_view key, std::int64_t now_ns) {
  Stripe& s = stripe(key);
  std::lock_guard lock(s.mutex);
  return s.counter.add(key, now_ns);
}

double SharedSlidingWindowCounter::count(std::string_view key, std::int64_t now_ns) const {
  Stripe& s = stripe(key);
  std::lock_guard lock(s.mutex);
  return s.counter.count(key, now_ns);
}

}  // namespace fs::gateway
