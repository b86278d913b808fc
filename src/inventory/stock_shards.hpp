#pragma once
// Inventory in Redis as split stock counters (seed flows 1, 5, 6). One instance per I/O thread,
// over that thread's Redis client.
#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "domain/product.hpp"
#include "inventory/stock_keys.hpp"
#include "inventory/stock_scripts.hpp"
#include "redis/redis_client.hpp"

namespace fs::metrics {
class BackendMetrics;
}

namespace fs::inventory {

struct ReserveOutcome {
  enum class Kind { reserved, sold_out, limit_exceeded, paused };
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

class StockShards;

// One click's reserve, prepared in the caller's frame: send() is not a coroutine, so the click's
// path to Redis has no frame of StockShards' own. For coroutines on the hot path:
//   ReserveCall call(shards, product, user, qty, id, now_ms);
//   auto taken = call.outcome(co_await call.send());
// The object must stay alive and unmoved until send()'s awaitable has completed.
//
// Clicks are batched: send() queues the click on its StockShards, and the first click queued
// posts a flush, so every click of the same sale that reaches send() before the flush runs (the
// requests of one epoll wakeup, typically) goes to Redis in one reserve_batch call. Redis'
// fixed cost per script call (~3 µs: parsing, script lookup, the Lua call, the reply) is then
// paid once per batch, and the client formats one command. A lone click uses reserve.
class ReserveCall {
 public:
  ReserveCall(StockShards& shards, const Product& product, const std::string& user_id, int quantity,
              const std::string& reservation_id, std::int64_t now_ms);
  ReserveCall(const ReserveCall&) = delete;
  ReserveCall& operator=(const ReserveCall&) = delete;

  boost::asio::awaitable<Result<redis::Reply>> send();
  // The script's answer (and its latency and error recorded).
  Result<ReserveOutcome> outcome(const Result<redis::Reply>& reply) const;

 private:
  friend class StockShards;
  StockShards& shards_;
  UsersKey users_;
  char terms_[kReserveTermsMax];
  char now_[20];
  std::array<std::string_view, 1> keys_;
  std::array<std::string_view, 4> args_;
  std::chrono::steady_clock::time_point start_;
};

class StockShards {
 public:
  // gated: reservations also need the sale's gate key (see StockKeys::gate), which only the
  // StockReconciler and initialize() open; set it when a reconciler runs.
  // metrics: the latency and errors of the reservation scripts (reserve, release, commit_hold,
  // consume_hold) as backend "redis"; optional.
  explicit StockShards(redis::Client& redis, bool gated = false,
                       metrics::BackendMetrics* metrics = nullptr)
      : redis_(redis), gated_(gated), metrics_(metrics) {}

  // Atomically: per-user limit check, shard walk from hash(user) with fall-through, decrement,
  // hold record. Errors are Redis failures (unavailable / timeout / backend_error). The same
  // call as ReserveCall, as a coroutine of its own.
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
  // Marks a hold committed without waiting, sharing one Redis call with the other marks asked
  // for on this thread meanwhile: the first mark posts a flush to `executor`, and every mark
  // asked for before it runs (the other 201s of the same group-committed insert batch resume
  // in between) goes out with it, one script call per sale. A mark that never lands (Redis
  // down, process stopped) is made by the crash sweep after it has found the row.
  void commit_hold_soon(const boost::asio::any_io_executor& executor, const Product& product,
                        std::string reservation_id);
  boost::asio::awaitable<Result<bool>> consume_hold(const Product& product,
                                                    const std::string& reservation_id);

  // Writes the shard counters of a new sale generation and deletes the previous generation's
  // keys (previous_generation 0: none).
  boost::asio::awaitable<Status> initialize(const Product& product,
                                            std::int64_t previous_generation);

  // Current level of every shard (MGET).
  boost::asio::awaitable<Result<std::vector<std::int64_t>>> levels(const Product& product);

  // All holds of a sale (HGETALL: its cost follows every live reservation of the sale, so for
  // tests and diagnostics only).
  boost::asio::awaitable<Result<std::vector<Hold>>> holds(const Product& product);

  // Up to `limit` holds still in state h taken at or before `taken_before_ms`, oldest first:
  // what the crash sweep settles (from the <base>:unsettled index, not the whole holds hash).
  boost::asio::awaitable<Result<std::vector<Hold>>> unsettled_holds(const Product& product,
                                                                    std::int64_t taken_before_ms,
                                                                    std::size_t limit);

  // Pauses reservations of the sale (the reserve script answers paused) for at most `ttl`, so a
  // reconciler that dies does not pause the sale for ever.
  boost::asio::awaitable<Status> pause(const Product& product, std::chrono::milliseconds ttl);

  // The counters of a sale as the ledger says they should be (see StockReconciler).
  struct LedgerState {
    std::vector<std::int64_t> levels;  // per shard, product.shards entries
    std::vector<std::pair<std::string, std::int64_t>> user_units;
    std::vector<Hold> holds;  // state 'c'
  };
  // Replaces shards, per-user counts and holds in one script, and lifts the pause.
  boost::asio::awaitable<Status> rewrite(const Product& product, const LedgerState& state);

 private:
  friend class ReserveCall;

  // A script's latency (and error) is recorded under its op: started() before the call, then
  // finished() with its result. Inline in the callers, not a coroutine around the call: every
  // frame between a request and its reply is memory that 256 suspended requests keep touched.
  std::chrono::steady_clock::time_point started() const;
  void finished(std::string_view op, std::chrono::steady_clock::time_point start,
                const Result<redis::Reply>& r) const;

  boost::asio::awaitable<void> flush_commits();
  // commit_hold and consume_hold: `script` on the sale's holds hash and one reservation id; true
  // when it answered 1.
  boost::asio::awaitable<Result<bool>> hold_call(const redis::Script& script, std::string_view op,
                                                 const Product& product,
                                                 const std::string& reservation_id);

  // ReserveCall::send's queue (see ReserveCall): the clicks waiting for the next flush, by sale,
  // at most kReserveBatchMax per batch.
  struct QueuedReserve {
    ReserveCall* call;
    redis::ReplyHandler done;
  };
  struct ReserveBatch {
    std::string users;  // the sale's users key
    std::vector<QueuedReserve> calls;
  };
  void queue_reserve(ReserveCall& call, redis::ReplyHandler done,
                     const boost::asio::any_io_executor& executor);
  void flush_reserves();
  std::vector<ReserveBatch> reserve_batches_;
  bool reserve_flush_posted_ = false;

  redis::Client& redis_;
  bool gated_ = false;
  metrics::BackendMetrics* metrics_ = nullptr;
  // commit_hold_soon's marks not yet sent, by the sale's holds key.
  std::map<std::string, std::vector<std::string>> pending_commits_;
  bool flush_posted_ = false;
};

// Parses "<state>|<shard>|<qty>|<user>|<ms>".
bool parse_hold(std::string_view reservation_id, std::string_view value, Hold& out);
// The inverse of parse_hold.
std::string hold_record(const Hold& h);

}  // namespace fs::inventory
