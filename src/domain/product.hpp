#pragma once
// A flash sale: one product with a fixed stock, a price and a sale window.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "domain/time_format.hpp"

namespace fs {

enum class SaleState { upcoming, live, sold_out, ended };
std::string_view to_string(SaleState s) noexcept;

struct Product {
  std::string product_id;
  std::string name;
  std::int64_t price_cents = 0;
  std::string currency;
  std::int64_t stock_total = 0;
  int per_user_limit = 1;
  int shards = 10;
  int reservation_ttl_seconds = 600;
  std::optional<SysTime> sale_starts_at;
  std::optional<SysTime> sale_ends_at;
  std::int64_t generation = 1;  // bumped when the sale is replaced; scopes Redis keys

  bool sale_active(SysTime now) const {
    if (sale_starts_at && now < *sale_starts_at) return false;
    if (sale_ends_at && now >= *sale_ends_at) return false;
    return true;
  }
  SaleState state(SysTime now, std::int64_t available) const;
  bool operator==(const Product&) const = default;
};

// Product ids and user ids: 1-64 chars of [A-Za-z0-9_.-] (api.md's `sub` rule, reused for ids so
// they are safe inside Redis keys, URLs and logs).
bool valid_identifier(std::string_view s) noexcept;

}  // namespace fs
