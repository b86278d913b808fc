#pragma once
// Real servers for integration tests. Each test binary runs as one process: the shared servers
// start lazily on first use, once per process, and stop at exit (or die with the process via
// PR_SET_PDEATHSIG). Tests isolate themselves by key prefix (unique_name) or by a fresh database.
//
// Call these from the main thread (where gtest runs TEST bodies): the servers' parent-death
// signal is tied to the thread that started them.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "postgres/database.hpp"
#include "stack/local_servers.hpp"
#include "support/scratch_dir.hpp"

namespace fs::test {

// A connection pool config for tests that open their own pools: `connections` connections,
// a 10 s query timeout.
pg::DatabaseConfig database_config(const std::string& conninfo, std::size_t connections);

// One redis-server (appendonly yes) per test process. Throws if it cannot start.
stack::RedisServer& shared_redis();

// One PostgreSQL per test process, with role/database flashsale. Throws if it cannot start.
stack::PostgresServer& shared_postgres();

// A name unique within this machine and run: "<prefix>_<pid>_<counter>" (lowercase, usable as
// a Redis key prefix or an SQL identifier).
std::string unique_name(const std::string& prefix = "t");

// Creates a new empty database owned by the server's db_user and returns its conninfo.
// Throws on failure.
std::string fresh_database(stack::PostgresServer& server);

// redis-cli -p <port> <args...>; stdout without the trailing newline.
Result<std::string> redis_cli(std::uint16_t port, const std::vector<std::string>& args);

// Polls `predicate` every `interval` until it holds or `timeout` passes; returns its last value.
bool wait_until(const std::function<bool()>& predicate,
                std::chrono::milliseconds timeout = std::chrono::seconds{10},
                std::chrono::milliseconds interval = std::chrono::milliseconds{20});

// A Redis master, its replicas and a quorum of sentinels watching it, all in one ScratchDir.
// start() returns once every sentinel knows the replicas and the other sentinels, so a failover
// can happen right away.
class SentinelCluster {
 public:
  struct Options {
    int replicas = 1;
    int sentinels = 3;
    int quorum = 2;
    std::string master_name = "flashsale";
    std::chrono::milliseconds down_after{1000};
    std::chrono::milliseconds failover_timeout{3000};
  };
  static Result<std::unique_ptr<SentinelCluster>> start(Options options);
  static Result<std::unique_ptr<SentinelCluster>> start() { return start(Options{}); }

  stack::RedisServer& master() { return *redis_[0]; }
  stack::RedisServer& replica(std::size_t i) { return *redis_.at(i + 1); }
  // All data servers, the initial master first; their roles change after a failover.
  std::vector<std::unique_ptr<stack::RedisServer>>& redis() { return redis_; }
  std::vector<std::unique_ptr<stack::SentinelServer>>& sentinels() { return sentinels_; }
  std::vector<std::uint16_t> sentinel_ports() const;
  const std::string& master_name() const { return options_.master_name; }

  // SENTINEL get-master-addr-by-name as seen by sentinel `i`: the master's port.
  Result<std::uint16_t> master_port_seen_by(std::size_t i);

 private:
  Options options_;
  ScratchDir dir_{"flashsale-sentinel"};
  std::vector<std::unique_ptr<stack::RedisServer>> redis_;
  std::vector<std::unique_ptr<stack::SentinelServer>> sentinels_;
};

}  // namespace fs::test
