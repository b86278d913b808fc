#pragma once
// Rebuilds the Redis counters of sales from the PostgreSQL ledger after a Redis failover that
// may have lost acknowledged writes (asynchronous replication: the replica that Sentinel
// promotes can lack the last decrements, per-user counts and holds the old master acknowledged).
//
// Detection: the run_id of the master (INFO server) is compared with the run_id the counters were
// last reconciled for (key fs:redis:reconciled_run_id, itself in Redis). A promoted replica, or
// a restarted Redis, has another run_id. One instance does the work: the one that takes the lock
// fs:redis:reconcile_lock:<run_id> (SET NX PX). It pauses every sale it knows (a flag the reserve
// script checks: 503 meanwhile), waits `settle` so that reservations already decremented finish
// their INSERT (or time out, leaving their hold to the HoldResolver), reads the ledger and
// rewrites each sale in one script: shard levels = capacity - allocated (stock_shards, moved by
// every insert/expiry/failure in the same transaction as the row), per-user counts = units of
// PENDING/PAYING/PAID reservations, holds = PENDING/PAYING reservations (committed). The script
// lifts the pause; then the marker is set to the new run_id. Last, the Idempotency-Key records
// of the sale's reservations created in the last 24 hours are written back (SET NX: a record
// the new master still has is kept), so a client retrying a key whose record the failover lost
// replays its 201 instead of reserving again.
//
// The ledger cannot oversell in any case: the reservation INSERT moves stock_shards.allocated
// under allocated <= capacity. Reconciliation makes Redis agree with it again, so requests are
// answered from Redis correctly (no stream of database refusals, no stock lost for ever, the
// per-user limit counted again).
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "domain/product.hpp"
#include "inventory/stock_shards.hpp"

namespace fs::redis {
class Client;
}
namespace fs::pg {
class Database;
}

namespace fs::reservation {

struct ReconcilerConfig {
  // How long in-flight reservations get to finish their INSERT after the pause: at least the
  // PostgreSQL query timeout.
  std::chrono::milliseconds settle{2500};
  std::chrono::milliseconds lock_ttl{60000};
};

inline constexpr const char* kReconciledRunIdKey = "fs:redis:reconciled_run_id";

class StockReconciler {
 public:
  StockReconciler(boost::asio::any_io_executor executor, redis::Client& redis, pg::Database& db,
                  inventory::StockShards& stock, ReconcilerConfig config);

  // The master's run_id when it differs from the one the counters were rebuilt for, else
  // nullopt. Cheap (INFO server + GET): called every check interval.
  boost::asio::awaitable<Result<std::optional<std::string>>> master_changed();

  struct Outcome {
    bool done_here = false;  // this instance held the lock and rebuilt the sales
    std::size_t sales = 0;   // sales rebuilt
  };
  // For the master with `run_id`: takes the lock (another instance may hold it: done_here
  // false), pauses, settles, rebuilds `products`, records run_id.
  boost::asio::awaitable<Result<Outcome>> rebuild(
      std::string run_id, std::vector<std::shared_ptr<const Product>> products);

  // Pause, settle, rebuild: the sales given, whatever the run_id.
  boost::asio::awaitable<Status> reconcile(std::vector<std::shared_ptr<const Product>> products);

  // Writes back the replay record of every reservation of the sale created with an
  // Idempotency-Key within the keep period (its 201 body, regenerated from the row). Returns
  // how many rows were seen.
  boost::asio::awaitable<Result<std::size_t>> restore_idempotency(const Product& product);

  // What the ledger says the counters of a sale should be.
  boost::asio::awaitable<Result<inventory::StockShards::LedgerState>> ledger_state(
      const Product& product);

 private:
  boost::asio::any_io_executor executor_;
  redis::Client& redis_;
  pg::Database& db_;
  inventory::StockShards& stock_;
  ReconcilerConfig config_;
};

// The run_id line of an INFO server reply; empty when absent.
std::string run_id_from_info(std::string_view info);

}  // namespace fs::reservation
