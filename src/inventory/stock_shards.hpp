#pragma once
// Inventory in Redis as split stock counters (seed flows 1, 5, 6). One instance per I/O thread,
// over that thread's Redis client.
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "domain/product.hpp"
#include "redis/redis_client.hpp"

namespace fs::inventory {

struct ReserveOutcome {
  enum class Kind { reserved, sold_out, limit_exceeded };
  Kind kind = Kind::sold_out;
  int shard = -1;  // when reserved
};

struct Hold {
  std::string reservation_id;
  char state = 'h';  // h: not yet known durable, c: committed in PostgreSQL
  int shard = 0;
  int quantity = 0;
  std::string user_id;
  std::int64_t taken_at_ms = 0;
};

class StockShards {
 public:
  explicit StockShards(redis::Client& redis) : redis_(redis) {}

  // Atomically: per-user limit check, shard walk from hash(user) with fall-through, decrement,
  // hold record. Errors are Redis failures (unavailable / timeout / backend_error).
  boost::asio::awaitable<Result<ReserveOutcome>> reserve(const Product& product,
                                                         const std::string& user_id, int quantity,
                                                         const std::string& reservation_id,
                                                         std::int64_t now_ms);

  // Returns the units of a hold to its shard, exactly once. true when returned now.
  boost::asio::awaitable<Result<bool>> release(const Product& product, const std::string& user_id,
                                               int shard, int quantity,
                                               const std::string& reservation_id);
  boost::asio::awaitable<Result<bool>> commit_hold(const Product& product,
                                                   const std::string& reservation_id);
  boost::asio::awaitable<Result<bool>> consume_hold(const Product& product,
                                                    const std::string& reservation_id);

  // Writes the shard counters of a new sale generation and deletes the previous generation's
  // keys (previous_generation 0: none).
  boost::asio::awaitable<Status> initialize(const Product& product,
                                            std::int64_t previous_generation);

  // Current level of every shard (MGET).
  boost::asio::awaitable<Result<std::vector<std::int64_t>>> levels(const Product& product);

  // All holds of a sale (for reconciliation).
  boost::asio::awaitable<Result<std::vector<Hold>>> holds(const Product& product);

 private:
  redis::Client& redis_;
};

// Parses "<state>|<shard>|<qty>|<user>|<ms>".
bool parse_hold(std::string_view reservation_id, std::string_view value, Hold& out);

}  // namespace fs::inventory
