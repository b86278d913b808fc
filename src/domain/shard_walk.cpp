#include "domain/shard_walk.hpp"

namespace fs {

std::uint64_t stable_hash(std::string_view s) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64 offset basis
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;  // FNV-1a 64 prime
  }
  return h;
}

int first_shard(std::string_view user_id, int shards) noexcept {
  if (shards <= 1) return 0;
  return static_cast<int>(stable_hash(user_id) % static_cast<std::uint64_t>(shards));
}

std::vector<int> shard_walk(std::string_view user_id, int shards) {
  std::vector<int> order;
  if (shards <= 0) return order;
  order.reserve(static_cast<std::size_t>(shards));
  int start = first_shard(user_id, shards);
  for (int i = 0; i < shards; ++i) order.push_back((start + i) % shards);
  return order;
}

std::vector<std::int64_t> split_stock(std::int64_t total, int shards) {
  std::vector<std::int64_t> out;
  if (shards <= 0) return out;
  out.assign(static_cast<std::size_t>(shards), total / shards);
  std::int64_t rem = total % shards;
  for (std::int64_t i = 0; i < rem; ++i) ++out[static_cast<std::size_t>(i)];
  return out;
}

}  // namespace fs
