#include "domain/json_views.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "common/append_decimal.hpp"
#include "common/json_escape.hpp"

namespace fs {
namespace json = boost::json;

namespace {

void append_string_member(std::string& out, std::string_view key, std::string_view value) {
  out.append(key);
  out.push_back('"');
  append_json_escaped(out, value);
  out.push_back('"');
}

void append_int_member(std::string& out, std::string_view key, std::int64_t value) {
  out.append(key);
  append_decimal(out, value);
}

void append_time_member(std::string& out, std::string_view key, SysTime value) {
  out.append(key);
  out.push_back('"');
  append_rfc3339(out, value);
  out.push_back('"');
}

}  // namespace

// Written out rather than built as a json::object and serialized: a 201 formats it twice (the
// response and the reservation.created event), and the object's allocations, hashing and
// serializer were a third of the service's instructions per 201. The members, their order and
// their escaping are what json::serialize wrote (tests/unit/domain/json_views_test.cpp).
std::string reservation_json(const Reservation& r) {
  std::string out;
  out.reserve(256 + r.reservation_id.size() + r.product_id.size() + r.user_id.size());
  append_string_member(out, R"({"reservation_id":)", r.reservation_id);
  append_string_member(out, R"(,"product_id":)", r.product_id);
  append_string_member(out, R"(,"user_id":)", r.user_id);
  append_int_member(out, R"(,"quantity":)", r.quantity);
  append_string_member(out, R"(,"status":)", to_string(r.status));
  append_int_member(out, R"(,"amount_cents":)", r.amount_cents);
  append_string_member(out, R"(,"currency":)", r.currency);
  append_time_member(out, R"(,"expires_at":)", r.expires_at);
  append_time_member(out, R"(,"created_at":)", r.created_at);
  if (r.order_id) append_string_member(out, R"(,"order_id":)", *r.order_id);
  if (r.payment_id) append_string_member(out, R"(,"payment_id":)", *r.payment_id);
  if (r.failure_code) append_string_member(out, R"(,"failure_code":)", *r.failure_code);
  out.push_back('}');
  return out;
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
