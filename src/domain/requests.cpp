#include "domain/requests.hpp"

#include <array>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstddef>

#include "domain/flat_json.hpp"

namespace fs {
namespace {

namespace json = boost::json;
using flat_json::Field;
using flat_json::field_of;

// `sp`: where the DOM lives (a caller's stack buffer for the hot path's small bodies).
Result<json::object> parse_object(std::string_view body, json::storage_ptr sp = {}) {
  if (body.empty()) return Error{Errc::invalid_request, "request body is required"};
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 8;
  json::value v = json::parse(body, ec, std::move(sp), opts);
  if (ec) return Error{Errc::invalid_request, "request body is not valid JSON"};
  if (!v.is_object()) return Error{Errc::invalid_request, "request body must be a JSON object"};
  return std::move(v.as_object());
}

// An integer field: JSON integers only (1.0, "1", true are rejected).
Result<std::optional<std::int64_t>> get_int(const Field& f, std::string_view key, std::int64_t min,
                                            std::int64_t max) {
  if (f.absent_or_null()) return std::optional<std::int64_t>{};
  if (f.kind == Field::Kind::uint64)
    return Error{Errc::invalid_request, std::string(key) + " is out of range"};
  if (f.kind != Field::Kind::int64)
    return Error{Errc::invalid_request, std::string(key) + " must be an integer"};
  const std::int64_t n = f.number;
  if (n < min || n > max)
    return Error{Errc::invalid_request, std::string(key) + " must be between " +
                                            std::to_string(min) + " and " + std::to_string(max)};
  return std::optional<std::int64_t>{n};
}

Result<std::optional<std::int64_t>> get_int(const json::object& o, std::string_view key,
                                            std::int64_t min, std::int64_t max) {
  return get_int(field_of(o, key), key, min, max);
}

Result<std::optional<std::string>> get_string(const Field& f, std::string_view key,
                                              std::size_t max_len) {
  if (f.absent_or_null()) return std::optional<std::string>{};
  if (f.kind != Field::Kind::string)
    return Error{Errc::invalid_request, std::string(key) + " must be a string"};
  if (f.text.empty() || f.text.size() > max_len)
    return Error{Errc::invalid_request,
                 std::string(key) + " must be 1-" + std::to_string(max_len) + " characters"};
  return std::optional<std::string>{std::string(f.text)};
}

Result<std::optional<std::string>> get_string(const json::object& o, std::string_view key,
                                              std::size_t max_len) {
  return get_string(field_of(o, key), key, max_len);
}

Result<std::optional<SysTime>> get_time(const json::object& o, std::string_view key) {
  auto s = get_string(o, key, 64);
  if (!s) return std::move(s).error();
  if (!*s) return std::optional<SysTime>{};
  auto t = parse_rfc3339(**s);
  if (!t) return Error{Errc::invalid_request, std::string(key) + " must be an RFC 3339 time"};
  return std::optional<SysTime>{*t};
}

bool printable_utf8_text(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7F) return false;
  return true;
}

}  // namespace

std::string ReservationRequest::fingerprint() const {
  std::string f;
  f.reserve(product_id.size() + 32);
  f.append(product_id).push_back('\n');
  f.append(std::to_string(quantity)).push_back('\n');
  if (payment_method) f.append(*payment_method);
  return f;
}

bool valid_idempotency_key(std::string_view key) noexcept {
  if (key.empty() || key.size() > 255) return false;
  for (unsigned char c : key)
    if (c < 0x21 || c > 0x7E) return false;
  return true;
}

bool valid_payment_method(std::string_view pm) noexcept {
  if (pm.empty() || pm.size() > 255) return false;
  for (char c : pm) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

namespace {

constexpr std::array<std::string_view, 3> kReservationFields{"product_id", "quantity",
                                                             "payment_method"};

// The fields in kReservationFields' order, however they were parsed.
Result<ReservationRequest> reservation_from_fields(const std::array<Field, 3>& f) {
  ReservationRequest r;
  auto pid = get_string(f[0], "product_id", 64);
  if (!pid) return std::move(pid).error();
  if (!*pid) return Error{Errc::invalid_request, "product_id is required"};
  if (!valid_identifier(**pid))
    return Error{Errc::invalid_request, "product_id must be 1-64 characters of [A-Za-z0-9_.-]"};
  r.product_id = std::move(**pid);
  auto qty = get_int(f[1], "quantity", 1, kMaxQuantity);
  if (!qty) return std::move(qty).error();
  if (*qty) r.quantity = static_cast<int>(**qty);
  auto pm = get_string(f[2], "payment_method", 255);
  if (!pm) return std::move(pm).error();
  if (*pm) {
    if (!valid_payment_method(**pm))
      return Error{Errc::invalid_request, "payment_method has invalid characters"};
    r.payment_method = std::move(**pm);
  }
  return r;
}

}  // namespace

Result<ReservationRequest> parse_reservation_request(std::string_view body) {
  // Every "Buy Now" carries this body: the flat scanner reads it without a DOM.
  std::array<Field, 3> fields;
  if (flat_json::scan(body, kReservationFields, fields)) return reservation_from_fields(fields);
  return detail::parse_reservation_request_dom(body);
}

namespace detail {

Result<ReservationRequest> parse_reservation_request_dom(std::string_view body) {
  // The DOM of a body the scanner did not take (at most the 16 KiB body limit) lives in a stack
  // buffer first and spills to the heap; only the fields copied out outlive it.
  alignas(std::max_align_t) unsigned char storage[1024];
  json::monotonic_resource arena(storage, sizeof storage);
  auto obj = parse_object(body, &arena);
  if (!obj) return std::move(obj).error();
  std::array<Field, 3> fields;
  for (std::size_t i = 0; i < fields.size(); ++i) fields[i] = field_of(*obj, kReservationFields[i]);
  return reservation_from_fields(fields);
}

bool scans_flat(std::string_view body) {
  std::array<Field, 3> fields;
  return flat_json::scan(body, kReservationFields, fields);
}

}  // namespace detail

Result<PayRequest> parse_pay_request(std::string_view body) {
  auto obj = parse_object(body);
  if (!obj) return std::move(obj).error();
  auto pm = get_string(*obj, "payment_method", 255);
  if (!pm) return std::move(pm).error();
  if (!*pm) return Error{Errc::invalid_request, "payment_method is required"};
  if (!valid_payment_method(**pm))
    return Error{Errc::invalid_request, "payment_method has invalid characters"};
  return PayRequest{std::move(**pm)};
}

Result<CaptchaAnswerRequest> parse_captcha_answer_request(std::string_view body) {
  auto obj = parse_object(body);
  if (!obj) return std::move(obj).error();
  auto answer = get_string(*obj, "answer", 32);
  if (!answer) return std::move(answer).error();
  if (!*answer || (*answer)->empty()) return Error{Errc::invalid_request, "answer is required"};
  return CaptchaAnswerRequest{std::move(**answer)};
}

Result<Product> parse_product_request(std::string_view product_id, std::string_view body) {
  if (!valid_identifier(product_id))
    return Error{Errc::invalid_request, "product id must be 1-64 characters of [A-Za-z0-9_.-]"};
  auto obj = parse_object(body);
  if (!obj) return std::move(obj).error();
  Product p;
  p.product_id = std::string(product_id);

  auto name = get_string(*obj, "name", 200);
  if (!name) return std::move(name).error();
  if (!*name) return Error{Errc::invalid_request, "name is required"};
  if (!printable_utf8_text(**name))
    return Error{Errc::invalid_request, "name must not contain control characters"};
  p.name = std::move(**name);

  auto price = get_int(*obj, "price_cents", 0, 1'000'000'000'000);
  if (!price) return std::move(price).error();
  if (!*price) return Error{Errc::invalid_request, "price_cents is required"};
  p.price_cents = **price;

  auto currency = get_string(*obj, "currency", 3);
  if (!currency) return std::move(currency).error();
  if (!*currency || (*currency)->size() != 3)
    return Error{Errc::invalid_request, "currency must be a 3-letter lowercase ISO code"};
  for (char c : **currency)
    if (c < 'a' || c > 'z')
      return Error{Errc::invalid_request, "currency must be a 3-letter lowercase ISO code"};
  p.currency = std::move(**currency);

  auto stock = get_int(*obj, "stock", 0, 1'000'000'000);
  if (!stock) return std::move(stock).error();
  if (!*stock) return Error{Errc::invalid_request, "stock is required"};
  p.stock_total = **stock;

  auto limit = get_int(*obj, "per_user_limit", 1, kMaxQuantity);
  if (!limit) return std::move(limit).error();
  if (*limit) p.per_user_limit = static_cast<int>(**limit);

  auto shards = get_int(*obj, "shards", 1, 256);
  if (!shards) return std::move(shards).error();
  if (*shards) p.shards = static_cast<int>(**shards);

  auto ttl = get_int(*obj, "reservation_ttl_seconds", 1, 7 * 86400);
  if (!ttl) return std::move(ttl).error();
  if (*ttl) p.reservation_ttl_seconds = static_cast<int>(**ttl);

  auto starts = get_time(*obj, "sale_starts_at");
  if (!starts) return std::move(starts).error();
  p.sale_starts_at = *starts;
  auto ends = get_time(*obj, "sale_ends_at");
  if (!ends) return std::move(ends).error();
  p.sale_ends_at = *ends;
  if (p.sale_starts_at && p.sale_ends_at && *p.sale_ends_at <= *p.sale_starts_at)
    return Error{Errc::invalid_request, "sale_ends_at must be after sale_starts_at"};
  return p;
}

}  // namespace fs
