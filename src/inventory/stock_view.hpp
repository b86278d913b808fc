#pragma once
// What this instance knows about stock levels, shared by all I/O threads. It lets the
// sold-out path (99.9% of a flash-sale burst) answer 410 from memory with no Redis round trip.
// A sale is marked sold out when a reservation walk finds every shard empty; the mark is lifted
// as soon as a refresh (StockMonitor, every ~100 ms) or a local release sees stock again.
// A product's entry is found through a per-thread copy of the index (entries are never freed),
// so the sold-out check reads only lines that change when the stock does.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/per_thread_cache.hpp"

namespace fs::inventory {

class StockView {
 public:
  bool known_sold_out(std::string_view product_id, std::int64_t generation) const;
  void mark_sold_out(std::string_view product_id, std::int64_t generation);
  // A fresh reading of the total available units (clears the sold-out mark when > 0).
  void update_available(std::string_view product_id, std::int64_t generation,
                        std::int64_t available);
  // Stock came back (a release on this instance): clear the mark at once.
  void stock_returned(std::string_view product_id, std::int64_t generation);
  // Last reading, if any (may lag by up to a refresh interval).
  std::optional<std::int64_t> available(std::string_view product_id, std::int64_t generation) const;
  void forget(std::string_view product_id);

 private:
  struct Entry {
    std::atomic<std::int64_t> generation{0};
    std::atomic<bool> sold_out{false};
    std::atomic<std::int64_t> available{-1};
  };
  Entry* find(std::string_view product_id) const;
  Entry& get_or_create(std::string_view product_id);

  // Heterogeneous lookup: a string_view finds its entry without building a string.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using Index = std::unordered_map<std::string, Entry*, Hash, std::equal_to<>>;

  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<Entry>, Hash, std::equal_to<>> entries_;
  PerThreadCache<Index> index_;
};

}  // namespace fs::inventory
