#include "crowd/crowd_requests.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstdio>

#include "crowd/crowd.hpp"

namespace fs::crowd {

std::string user_subject(std::size_t user_index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "user-%06zu", user_index + 1);
  return buf;
}

std::string forwarded_ip_for(std::size_t user_index) {
  // 24 bits of user index spread over 11.0.0.0/8..; octets 1..254 keep clear of network,
  // broadcast and zero addresses a gateway might treat specially.
  std::size_t i = user_index;
  const unsigned d = static_cast<unsigned>(i % 254) + 1;
  i /= 254;
  const unsigned c = static_cast<unsigned>(i % 254) + 1;
  i /= 254;
  const unsigned b = static_cast<unsigned>(i % 254) + 1;
  i /= 254;
  const unsigned a = 11 + static_cast<unsigned>(i % 100);  // 11..110: public, not 127/10
  char buf[20];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", a, b, c, d);
  return buf;
}

std::size_t user_of_request(std::size_t request_index, std::size_t requests_per_user) {
  return requests_per_user == 0 ? request_index : request_index / requests_per_user;
}

std::string product_body(const CrowdOptions& o) {
  boost::json::object body;
  body["name"] = "Demo phone";
  body["price_cents"] = o.price_cents;
  body["currency"] = o.currency;
  body["stock"] = o.stock;
  body["per_user_limit"] = o.per_user_limit;
  body["shards"] = o.shards;
  body["reservation_ttl_seconds"] = o.reservation_ttl_seconds;
  return boost::json::serialize(body);
}

std::string reservation_body(const CrowdOptions& o) {
  boost::json::object body;
  body["product_id"] = o.product_id;
  body["quantity"] = 1;
  if (!o.payment_method.empty()) body["payment_method"] = o.payment_method;
  return boost::json::serialize(body);
}

std::uint64_t most_created_by_one_user(std::vector<std::uint32_t>& users) {
  std::sort(users.begin(), users.end());
  std::uint64_t best = 0;
  for (std::size_t i = 0; i < users.size();) {
    std::size_t j = i;
    while (j < users.size() && users[j] == users[i]) ++j;
    best = std::max<std::uint64_t>(best, j - i);
    i = j;
  }
  return best;
}

bool valid_product_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace fs::crowd
