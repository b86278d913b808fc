#pragma once
// Redis key names of one sale (product + generation). See stock_scripts.hpp.
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace fs::inventory {

class StockKeys {
 public:
  StockKeys(std::string_view product_id, std::int64_t generation)
      : base_("fs:{" + std::string(product_id) + ":" + std::to_string(generation) + "}") {}
  std::string shard(int i) const { return base_ + ":stock:" + std::to_string(i); }
  std::string users() const { return base_ + ":users"; }
  std::string holds() const { return base_ + ":holds"; }
  // The holds not yet known committed ('h'), by the time they were taken (a sorted set): what
  // the crash sweep reads, so that its cost follows the unsettled holds, not every hold of the
  // sale. The scripts derive it from holds() (same hash slot).
  std::string unsettled() const { return base_ + ":unsettled"; }
  // Set while the sale's counters are being rebuilt from the ledger (after a Redis failover):
  // the reserve script answers "paused" (503) meanwhile.
  std::string paused() const { return base_ + ":paused"; }
  // Written on the master only (never replicated, never in the AOF) once the sale's counters
  // are known to match the ledger there: a promoted replica or a restarted Redis lacks it, so
  // with a reconciler running, reservations wait (503) until the sale is rebuilt.
  std::string gate() const { return base_ + ":gate"; }
  const std::string& base() const { return base_; }

 private:
  std::string base_;
};

// StockKeys(product_id, generation).users() written into a buffer of its own: the key every
// reservation sends, built without an allocation (a longer product id than any valid one
// spills to the heap).
class UsersKey {
 public:
  UsersKey(std::string_view product_id, std::int64_t generation) {
    constexpr std::string_view kHead = "fs:{";
    constexpr std::string_view kTail = "}:users";
    char gen[20];
    const char* gen_end = std::to_chars(gen, gen + sizeof gen, generation).ptr;
    size_ = kHead.size() + product_id.size() + 1 + static_cast<std::size_t>(gen_end - gen) +
            kTail.size();
    char* out = inline_.data();
    if (size_ > inline_.size()) {
      spill_.resize(size_);
      out = spill_.data();
    }
    out = std::copy(kHead.begin(), kHead.end(), out);
    out = std::copy(product_id.begin(), product_id.end(), out);
    *out++ = ':';
    out = std::copy(static_cast<const char*>(gen), gen_end, out);
    std::copy(kTail.begin(), kTail.end(), out);
  }
  UsersKey(const UsersKey&) = delete;  // view() may point into this object
  UsersKey& operator=(const UsersKey&) = delete;
  std::string_view view() const {
    return {size_ > inline_.size() ? spill_.data() : inline_.data(), size_};
  }

 private:
  std::array<char, 4 + 64 + 1 + 20 + 7> inline_;  // a valid product id has at most 64 chars
  std::string spill_;
  std::size_t size_ = 0;
};

}  // namespace fs::inventory
