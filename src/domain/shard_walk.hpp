#pragma once
// Split stock counters (seed flow 6): a product's stock is spread over N shard counters. A user
// starts at shard hash(user_id) mod N and falls through round-robin to the next shards.
#include <cstdint>
#include <string_view>
#include <vector>

namespace fs {

// FNV-1a 64: stable across processes and platforms (std::hash is not), so every instance sends
// one user to the same first shard.
std::uint64_t stable_hash(std::string_view s) noexcept;

int first_shard(std::string_view user_id, int shards) noexcept;

// The order in which shards are tried for this user: first_shard, first_shard+1, ... (mod N).
std::vector<int> shard_walk(std::string_view user_id, int shards);

// How `total` units are split over `shards` counters: as even as possible, the remainder going
// to the lowest shards. Sums to total exactly.
std::vector<std::int64_t> split_stock(std::int64_t total, int shards);

}  // namespace fs
