#pragma once
// Starts real redis-server, redis-sentinel and PostgreSQL processes on loopback for
// `flashsale up` and for the integration tests. Start-up code: blocking calls are fine here,
// never call these from an I/O thread. Children die with their parent (PR_SET_PDEATHSIG), so
// a killed `flashsale up` or test leaves no orphan servers.
//
// PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process:
// spawn servers from a thread that lives as long as they should (the main thread), never
// from a short-lived worker thread.
#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace fs::stack {

// A loopback TCP port that was free a moment ago.
std::uint16_t free_port();

// True when something accepts TCP connections on 127.0.0.1:port.
bool port_accepts_connections(std::uint16_t port);

// A child process running a program; killed (SIGTERM, then SIGKILL) on destruction.
class ChildProcess {
 public:
  struct Options {
    std::vector<std::string> argv;   // argv[0] is the program path (or a name looked up in PATH)
    std::filesystem::path log_file;  // stdout+stderr go here (appended); empty: /dev/null
    std::optional<std::string> run_as_user;  // setuid/setgid to this user when running as root
    std::vector<std::string> env;            // extra "K=V" entries (override inherited ones)
    std::optional<std::filesystem::path> working_dir;  // default: "/" when run_as_user applies
    int death_signal = SIGKILL;  // sent to the child when the spawning thread dies
    int stop_signal = SIGTERM;   // first signal of stop()
  };
  static Result<std::unique_ptr<ChildProcess>> spawn(Options options);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();        // reaps if exited
  void signal(int sig);  // sends a signal (no-op once reaped)
  // stop_signal, waits up to `grace`, then SIGKILL; reaps.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds{10000});
  void kill();  // SIGKILL and reap
  // Polls every 10 ms until the child exits (reaping it) or `timeout` passes; true if it exited.
  bool wait_for_exit(std::chrono::milliseconds timeout);
  // Raw waitpid status once reaped.
  std::optional<int> wait_status() const { return status_; }

 private:
  ChildProcess(pid_t pid, int stop_signal) : pid_(pid), stop_signal_(stop_signal) {}
  pid_t pid_ = -1;
  int stop_signal_ = SIGTERM;
  bool reaped_ = false;
  std::optional<int> status_;
};

// Runs a program to completion and returns its stdout. A non-zero exit is Errc::backend_error
// (message: exit status and stderr), exceeding `timeout` kills it and is Errc::timeout,
// a program that cannot be started is Errc::not_found / Errc::internal.
Result<std::string> run_command(const std::vector<std::string>& argv,
                                std::chrono::milliseconds timeout = std::chrono::seconds{60},
                                const std::optional<std::string>& run_as_user = std::nullopt);

struct RedisOptions {
  std::filesystem::path dir;  // working dir (dump/aof, log)
  std::uint16_t port = 0;     // 0: free_port()
  bool append_only = true;    // appendonly yes, appendfsync everysec
  // auto-aof-rewrite-min-size: no background rewrite (a fork, then the whole dataset written,
  // next to PostgreSQL's WAL on a one-disk host) until the AOF is at least this big. Redis'
  // 64mb is ~30,000 reservations (~2.1 kB of AOF each): a rewrite every 15 s of a busy sale.
  std::string aof_rewrite_min_size = "1gb";
  std::optional<std::pair<std::string, std::uint16_t>> replica_of;
  std::vector<std::string> extra_args;  // e.g. {"--maxmemory", "64mb"}
  std::chrono::milliseconds start_timeout{10000};
};

class RedisServer {
 public:
  static Result<std::unique_ptr<RedisServer>> start(RedisOptions options);
  std::uint16_t port() const { return port_; }
  const RedisOptions& options() const { return options_; }
  std::filesystem::path log_file() const;
  pid_t pid() const;
  bool running() const;
  void stop();       // graceful stop (SIGTERM), waits
  void kill();       // SIGKILL (fault injection)
  Status restart();  // start again on the same port and dir

 private:
  Status launch();
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
  std::chrono::milliseconds start_timeout{10000};
};

class SentinelServer {
 public:
  static Result<std::unique_ptr<SentinelServer>> start(SentinelOptions options);
  std::uint16_t port() const { return port_; }
  std::filesystem::path log_file() const;
  pid_t pid() const;
  void stop();
  void kill();

 private:
  SentinelOptions options_;
  std::uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> proc_;
};

struct PostgresOptions {
  std::filesystem::path dir;         // data directory (initdb'd if it holds no PG_VERSION)
  std::uint16_t port = 0;            // 0: free_port()
  std::string os_user = "postgres";  // PostgreSQL refuses root: run as this user when root
  std::string database = "flashsale";
  std::string db_user = "flashsale";
  std::string db_password = "flashsale";
  std::size_t max_connections = 200;
  // initdb --no-sync, and reuse a cached initdb'd template per PG version (copying it is much
  // faster than initdb). Only the cluster creation is unsynced: the server runs with fsync=on.
  bool fast_initdb = true;
  // WAL segments ready before the first commit: PostgreSQL creates a WAL segment (16 MB
  // written with zeros, then fsync'd) when the WAL first reaches it, and the commit that gets
  // there waits for that (its fsync alone took 13-15 ms here), with every commit queued behind
  // it. A checkpoint recycles used segments into future ones instead, up to min_wal_size.
  // When > 0: min_wal_size is at least this many MB (max_wal_size at least twice that and
  // 1 GB), and start() creates the segments a fresh cluster lacks (a WAL record and a
  // pg_switch_wal() per segment, then a CHECKPOINT that recycles them), so a sale's first
  // wal_ready_mb of WAL goes into segments that exist. A cluster that has them already (a
  // restart) skips that. 0: PostgreSQL's defaults (the test servers).
  std::size_t wal_ready_mb = 0;
  std::vector<std::string> extra_settings;  // "name=value", passed as -c (override defaults)
  std::chrono::milliseconds start_timeout{30000};
};

class PostgresServer {
 public:
  // initdb (when dir is empty), start the postmaster in the foreground as a child, wait until it
  // accepts connections, create db_user and database when missing.
  static Result<std::unique_ptr<PostgresServer>> start(PostgresOptions options);
  std::uint16_t port() const { return port_; }
  const PostgresOptions& options() const { return options_; }
  std::string conninfo() const;  // "host=127.0.0.1 port=... dbname=... user=... password=..."
  // Same server, another database / user (e.g. superuser "postgres", trust auth).
  std::string conninfo(const std::string& database, const std::string& user) const;
  std::filesystem::path log_file() const;
  pid_t pid() const;
  bool running() const;
  void stop();       // fast shutdown (SIGINT), waits
  void kill();       // SIGKILL of the postmaster (fault injection)
  Status restart();  // start again on the same port and dir (crash recovery after kill())
  // Runs SQL through psql as the superuser; returns unaligned tuples-only output.
  Result<std::string> psql(const std::string& sql, const std::string& database = "postgres") const;
  // WAL segment files in pg_wal (the one being written and those ready for later WAL).
  std::size_t wal_segments() const;

 private:
  Status launch();
  Status prepare_wal();  // PostgresOptions::wal_ready_mb
  PostgresOptions options_;
  std::uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> proc_;
};

// Finds a program (redis-server, redis-sentinel, postgres, initdb, psql, ...) in PATH, then in
// /usr/lib/postgresql/*/bin (highest version first), then /usr/sbin and /usr/bin.
Result<std::filesystem::path> find_program(const std::string& name);

}  // namespace fs::stack
