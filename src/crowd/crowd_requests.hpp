#pragma once
// The requests the crowd sends, built as plain values so they can be checked without a server.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fs::crowd {

struct CrowdOptions;

// "user-000001" for index 0: stable, sortable subjects that satisfy the JWT `sub` rules.
std::string user_subject(std::size_t user_index);

// A distinct public-looking IPv4 per user (for X-Forwarded-For), never a loopback or 0 octet.
std::string forwarded_ip_for(std::size_t user_index);

// Which user sends request number `request_index`: a user's repeated clicks are adjacent so they
// race each other on the server (a shopper hammering the button), as the per-user limit must
// survive.
std::size_t user_of_request(std::size_t request_index, std::size_t requests_per_user);

// PUT /v1/admin/products/{id} body.
std::string product_body(const CrowdOptions& options);
// POST /v1/reservations body.
std::string reservation_body(const CrowdOptions& options);

// The most 201s any single user got, from the user index of every 201 (sorts `users` in place).
std::uint64_t most_created_by_one_user(std::vector<std::uint32_t>& users);

// Product ids go into URL paths unescaped, so the crowd only accepts the plain charset.
bool valid_product_id(std::string_view id);

}  // namespace fs::crowd
