#pragma once
// The admin stats of a product (GET /v1/admin/products/{id}/stats) and the api.md /
// invariants.md checks the crowd runs on them after a sale.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace fs::crowd {

struct SaleStats {
  std::string product_id;
  std::int64_t stock_total = 0;
  std::int64_t available = 0;  // what Redis holds
  std::int64_t pending = 0;
  std::int64_t paying = 0;
  std::int64_t paid = 0;
  std::int64_t failed = 0;
  std::int64_t expired = 0;
};

// Errc::protocol_error when the body is not a stats object with integer counters.
Result<SaleStats> parse_sale_stats(std::string_view json);

// Nothing in flight: no payment is running and, for one-click buys (whose saga starts at once),
// no reservation is still waiting to enter it. Only then must conservation hold exactly.
bool at_rest(const SaleStats& stats, bool one_click);

struct InvariantInputs {
  std::uint64_t created = 0;   // count of 201 answers the crowd saw
  bool fresh_product = false;  // the crowd (re)created the product just before
  int per_user_limit = 1;
  std::uint64_t max_created_per_user = 0;  // most 201s any single user got
};

struct InvariantCheck {
  bool checked = false;  // false when the stats could not be fetched
  bool ok = false;
  std::string message;  // one line per finding; "all invariants hold" when ok
};

InvariantCheck check_invariants(const SaleStats& stats, const InvariantInputs& in);

}  // namespace fs::crowd
