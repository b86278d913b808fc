#pragma once
// Starts real redis-server, redis-sentinel and PostgreSQL processes on loopback for
// `flashsale up` and for the integration tests. Start-up code: blocking calls are fine here,
// never call these from an I/O thread. Children die with their parent (PR_SET_PDEATHSIG), so
// a killed `flashsale up` or test leaves no orphan servers.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace fs::stack {

// A loopback TCP port that was free a moment ago.
std::uint16_t free_port();

// A child process running a program; killed (SIGTERM, then SIGKILL) on destruction.
class ChildProcess {
 public:
  struct Options {
    std::vector<std::string> argv;  // argv[0] is the program path
    std::filesystem::path log_file;  // stdout+stderr go here (appended)
    std::optional<std::string> run_as_user;  // setuid/setgid to this user when running as root
    std::vector<std::string> env;  // extra "K=V" entries
  };
  static Result<std::unique_ptr<ChildProcess>> spawn(Options options);
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool running();                        // reaps if exited
  void signal(int sig);                  // sends a signal
  // SIGTERM, waits up to `grace`, then SIGKILL; reaps.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds{10000});
  void kill();  // SIGKILL and reap

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
  bool reaped_ = false;
};

struct RedisOptions {
  std::filesystem::path dir;  // working dir (dump/aof, log)
  std::uint16_t port = 0;     // 0: free_port()
  bool append_only = true;    // appendonly yes, appendfsync everysec
  std::optional<std::pair<std::string, std::uint16_t>> replica_of;
  std::vector<std::string> extra_args;  // e.g. {"--save", ""}
};

class RedisServer {
 public:
  static Result<std::unique_ptr<RedisServer>> start(RedisOptions options);
  std::uint16_t port() const { return port_; }
  const RedisOptions& options() const { return options_; }
  pid_t pid() const;
  void stop();  // SHUTDOWN-like graceful stop (SIGTERM)
  void kill();  // SIGKILL (fault injection)
  Status restart();  // start again on the same port and dir

 private:
  RedisOptions options_;
  std::uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> proc_;
};

struct SentinelOptions {
  std::filesystem::path dir;
  std::uint16_t port = 0;
  std::string master_name = "flashsale";
  std::string master_host = "127.0.0.1";
  std::uint16_t master_port = 0;
  int quorum = 2;
  std::chrono::milliseconds down_after{1000};
  std::chrono::milliseconds failover_timeout{3000};
};

class SentinelServer {
 public:
  static Result<std::unique_ptr<SentinelServer>> start(SentinelOptions options);
  std::uint16_t port() const { return port_; }
  void stop();
  void kill();

 private:
  SentinelOptions options_;
  std::uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> proc_;
};

struct PostgresOptions {
  std::filesystem::path dir;  // data directory (initdb'd if empty)
  std::uint16_t port = 0;     // 0: free_port()
  std::string os_user = "postgres";  // PostgreSQL refuses root: run as this user when root
  std::string database = "flashsale";
  std::string db_user = "flashsale";
  std::string db_password = "flashsale";
  std::size_t max_connections = 200;
};

class PostgresServer {
 public:
  // initdb (when dir is empty), start the postmaster in the foreground as a child, wait until it
  // accepts connections, create db_user and database when missing.
  static Result<std::unique_ptr<PostgresServer>> start(PostgresOptions options);
  std::uint16_t port() const { return port_; }
  std::string conninfo() const;  // "host=127.0.0.1 port=... dbname=... user=... password=..."
  pid_t pid() const;
  void stop();        // fast shutdown (SIGINT), waits
  void kill();        // SIGKILL of the postmaster (fault injection)
  Status restart();   // start again on the same port and dir

 private:
  PostgresOptions options_;
  std::uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> proc_;
};

// Finds a server binary (redis-server, redis-sentinel, postgres, initdb, pg_ctl) in PATH or in
// /usr/lib/postgresql/*/bin.
Result<std::filesystem::path> find_program(const std::string& name);

}  // namespace fs::stack
