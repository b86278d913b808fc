#include "domain/order.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace fs {

std::string order_json(const Order& o) {
  boost::json::object j;
  j["order_id"] = o.order_id;
  j["reservation_id"] = o.reservation_id;
  j["user_id"] = o.user_id;
  j["product_id"] = o.product_id;
  j["quantity"] = o.quantity;
  j["amount_cents"] = o.amount_cents;
  j["currency"] = o.currency;
  j["payment_id"] = o.payment_id;
  j["status"] = o.status;
  j["created_at"] = format_rfc3339(o.created_at);
  return boost::json::serialize(j);
}

}  // namespace fs
