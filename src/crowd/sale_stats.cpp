#include "crowd/sale_stats.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace fs::crowd {
namespace {

bool read_counter(const boost::json::object& obj, std::string_view key, std::int64_t& out) {
  const auto* v = obj.if_contains(key);
  if (v == nullptr) return false;
  if (v->is_int64()) {
    out = v->get_int64();
  } else if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    out = static_cast<std::int64_t>(v->get_uint64());
  } else {
    return false;
  }
  return true;
}

}  // namespace

Result<SaleStats> parse_sale_stats(std::string_view json) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(boost::json::string_view(json.data(), json.size()), ec);
  if (ec) return Error{Errc::protocol_error, "stats body is not JSON"};
  const auto* obj = v.if_object();
  if (obj == nullptr) return Error{Errc::protocol_error, "stats body is not an object"};
  SaleStats s;
  if (const auto* id = obj->if_contains("product_id"); id != nullptr && id->is_string())
    s.product_id = std::string(id->get_string());
  struct Field {
    std::string_view name;
    std::int64_t* target;
  };
  const Field fields[] = {
      {"stock_total", &s.stock_total}, {"available", &s.available}, {"pending", &s.pending},
      {"paying", &s.paying},           {"paid", &s.paid},           {"failed", &s.failed},
      {"expired", &s.expired}};
  for (const auto& f : fields) {
    if (!read_counter(*obj, f.name, *f.target))
      return Error{Errc::protocol_error,
                   "stats field '" + std::string(f.name) + "' missing or not an integer"};
  }
  return s;
}

bool at_rest(const SaleStats& stats, bool one_click) {
  return stats.paying == 0 && (!one_click || stats.pending == 0);
}

InvariantCheck check_invariants(const SaleStats& s, const InvariantInputs& in) {
  InvariantCheck out;
  out.checked = true;
  std::string& m = out.message;
  auto violation = [&m](const std::string& line) {
    if (!m.empty()) m += '\n';
    m += "VIOLATION: " + line;
  };
  const auto n = [](auto v) { return std::to_string(v); };

  const std::int64_t held = s.pending + s.paying + s.paid;
  if (s.available + held != s.stock_total)
    violation("conservation: available + pending + paying + paid = " + n(s.available) + " + " +
              n(s.pending) + " + " + n(s.paying) + " + " + n(s.paid) + " = " +
              n(s.available + held) + " != stock_total " + n(s.stock_total));
  if (held > s.stock_total)
    violation("oversell: pending + paying + paid = " + n(held) + " > stock_total " +
              n(s.stock_total));
  if (s.available < 0) violation("negative available stock: " + n(s.available));
  // Each failed or expired reservation hands its unit back for someone else to reserve, so
  // that is the only way more 201s than stock can be honest.
  const std::int64_t reservable = s.stock_total + s.failed + s.expired;
  if (static_cast<std::int64_t>(in.created) > reservable)
    violation(
        "oversell: " + n(in.created) + " reservations acknowledged (201) > stock_total " +
        n(s.stock_total) +
        (reservable != s.stock_total ? " + released " + n(s.failed + s.expired) : std::string()));
  if (in.fresh_product) {
    const std::int64_t recorded = held + s.failed + s.expired;
    if (static_cast<std::int64_t>(in.created) != recorded)
      violation("ledger: " + n(in.created) +
                " reservations acknowledged (201) but the product records " + n(recorded) +
                " (pending + paying + paid + failed + expired)");
  }
  // A user may legitimately reserve again after a reservation failed or expired, so the per-user
  // limit is only provable from the client side when none did.
  if (s.failed + s.expired == 0 && in.per_user_limit > 0 &&
      in.max_created_per_user > static_cast<std::uint64_t>(in.per_user_limit))
    violation("per-user limit: a user got " + n(in.max_created_per_user) + " reservations (limit " +
              n(in.per_user_limit) + ")");

  out.ok = m.empty();
  if (out.ok) m = "all invariants hold";
  return out;
}

}  // namespace fs::crowd
