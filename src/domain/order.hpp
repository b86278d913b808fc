#pragma once
// An order: a paid reservation (api.md, GET /v1/orders/{id}). One per reservation.
#include <cstdint>
#include <string>

#include "domain/time_format.hpp"

namespace fs {

struct Order {
  std::string order_id;  // UUID text
  std::string reservation_id;
  std::string user_id;
  std::string product_id;
  int quantity = 1;
  std::int64_t amount_cents = 0;
  std::string currency;
  std::string payment_id;
  std::string status = "CONFIRMED";
  SysTime created_at{};
};

std::string order_json(const Order& o);

}  // namespace fs
