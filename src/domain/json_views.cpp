#include "domain/json_views.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace fs {
namespace json = boost::json;

std::string reservation_json(const Reservation& r) {
  json::object o;
  o["reservation_id"] = r.reservation_id;
  o["product_id"] = r.product_id;
  o["user_id"] = r.user_id;
  o["quantity"] = r.quantity;
  o["status"] = to_string(r.status);
  o["amount_cents"] = r.amount_cents;
  o["currency"] = r.currency;
  o["expires_at"] = format_rfc3339(r.expires_at);
  o["created_at"] = format_rfc3339(r.created_at);
  if (r.order_id) o["order_id"] = *r.order_id;
  if (r.payment_id) o["payment_id"] = *r.payment_id;
  if (r.failure_code) o["failure_code"] = *r.failure_code;
  return json::serialize(o);
}

namespace {
void product_common(json::object& o, const Product& p) {
  o["product_id"] = p.product_id;
  o["name"] = p.name;
  o["price_cents"] = p.price_cents;
  o["currency"] = p.currency;
  if (p.sale_starts_at) o["sale_starts_at"] = format_rfc3339(*p.sale_starts_at);
  if (p.sale_ends_at) o["sale_ends_at"] = format_rfc3339(*p.sale_ends_at);
}
}  // namespace

std::string product_json(const Product& p, std::int64_t available, SysTime now) {
  json::object o;
  product_common(o, p);
  if (!p.sale_starts_at) o["sale_starts_at"] = nullptr;
  o["state"] = to_string(p.state(now, available));
  o["available"] = available;
  return json::serialize(o);
}

std::string admin_product_json(const Product& p) {
  json::object o;
  product_common(o, p);
  o["stock"] = p.stock_total;
  o["per_user_limit"] = p.per_user_limit;
  o["shards"] = p.shards;
  o["reservation_ttl_seconds"] = p.reservation_ttl_seconds;
  return json::serialize(o);
}

std::string stats_json(const Product& p, const ProductStats& s) {
  json::object o;
  o["product_id"] = p.product_id;
  o["stock_total"] = s.stock_total;
  o["available"] = s.available;
  o["pending"] = s.pending;
  o["paying"] = s.paying;
  o["paid"] = s.paid;
  o["failed"] = s.failed;
  o["expired"] = s.expired;
  json::array shards;
  for (std::size_t i = 0; i < s.shards.size(); ++i)
    shards.push_back(
        json::object{{"shard", static_cast<std::int64_t>(i)}, {"available", s.shards[i]}});
  o["shards"] = std::move(shards);
  return json::serialize(o);
}

}  // namespace fs
