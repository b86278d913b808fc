#pragma once
// Redis key names of one sale (product + generation). See stock_scripts.hpp.
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

}  // namespace fs::inventory
