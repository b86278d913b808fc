#pragma once
// The JSON bodies of api.md, built in one place.
#include <cstdint>
#include <string>
#include <vector>

#include "domain/product.hpp"
#include "domain/reservation.hpp"

namespace fs {

std::string reservation_json(const Reservation& r);
std::string product_json(const Product& p, std::int64_t available, SysTime now);
std::string admin_product_json(const Product& p);

struct ProductStats {
  std::int64_t stock_total = 0;
  std::int64_t available = 0;  // what Redis holds
  std::int64_t pending = 0, paying = 0, paid = 0, failed = 0, expired = 0;
  std::vector<std::int64_t> shards;  // per-shard available
};
std::string stats_json(const Product& p, const ProductStats& s);

}  // namespace fs
