// RedisServer and SentinelServer: redis-server / redis-sentinel in the foreground as children,
// configured on the command line (or a sentinel.conf, which sentinel insists on and rewrites).
#include <fstream>

#include "stack/local_servers.hpp"
#include "stack/readiness.hpp"

namespace fs::stack {
namespace {

constexpr int kAutoPortAttempts = 3;

bool lost_port_race(const Error& e) {
  return e.message.find("Address already in use") != std::string::npos;
}

Status prepare_dir(std::filesystem::path& dir, const std::string& what) {
  if (dir.empty()) return Error{Errc::invalid_request, what + ": dir is required"};
  std::error_code ec;
  dir = std::filesystem::absolute(dir, ec);
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return Error{Errc::internal, what + ": cannot create " + dir.string() + ": " + ec.message()};
  return {};
}

}  // namespace

Result<std::unique_ptr<RedisServer>> RedisServer::start(RedisOptions options) {
  if (auto s = prepare_dir(options.dir, "redis"); !s) return std::move(s).error();
  auto server = std::make_unique<RedisServer>();
  const bool auto_port = options.port == 0;
  server->options_ = std::move(options);
  for (int attempt = 1;; ++attempt) {
    server->port_ = auto_port ? free_port() : server->options_.port;
    auto s = server->launch();
    if (s) return server;
    if (!auto_port || attempt >= kAutoPortAttempts || !lost_port_race(s.error())) {
      return std::move(s).error();
    }
  }
}

std::filesystem::path RedisServer::log_file() const { return options_.dir / "redis.log"; }

Status RedisServer::launch() {
  if (port_accepts_connections(port_)) {
    return Error{Errc::unavailable,
                 "redis-server: port " + std::to_string(port_) + ": Address already in use"};
  }
  auto program = find_program("redis-server");
  if (!program) return std::move(program).error();
  // clang-format off
  std::vector<std::string> argv = {
      program->string(),
      "--port", std::to_string(port_),
      "--bind", "127.0.0.1",
      // Loopback only, so no password is needed; protected mode would refuse replicas.
      "--protected-mode", "no",
      "--dir", options_.dir.string(),
      "--daemonize", "no",
      "--logfile", "",  // stdout, which is our log file
      "--save", "",
      "--appendonly", options_.append_only ? "yes" : "no",
      "--appendfsync", "everysec",
      "--auto-aof-rewrite-min-size", options_.aof_rewrite_min_size,
      // A stream's new node preallocates stream-node-max-bytes (default 4096). Every buyer's
      // notification feed is a stream of a few entries (src/notifications), so the default
      // costs 4.7 kB and a 4 kB first-touch allocation per buyer; 1024 makes a one-entry feed
      // 1.7 kB and the feed push script half as expensive, and leaves the event log's long
      // streams as fast and within 2 % of their size (docs/benchmarks.md, round (9)).
      "--stream-node-max-bytes", "1024",
      // Replicas attach one by one; waiting 5 s for more to share one transfer only slows
      // start-up and failover tests.
      "--repl-diskless-sync-delay", "0"};
  // clang-format on
  if (options_.replica_of) {
    argv.insert(argv.end(), {"--replicaof", options_.replica_of->first,
                             std::to_string(options_.replica_of->second)});
  }
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());

  ChildProcess::Options child;
  child.argv = std::move(argv);
  child.log_file = log_file();
  child.working_dir = options_.dir;
  auto proc = ChildProcess::spawn(std::move(child));
  if (!proc) return std::move(proc).error();
  proc_ = std::move(*proc);
  const std::uint16_t port = port_;
  auto ready = detail::wait_until_ready(
      *proc_,
      [port, pid = proc_->pid()] {
        return detail::redis_ready(port, pid, std::chrono::milliseconds{500});
      },
      options_.start_timeout, "redis-server on port " + std::to_string(port_), log_file());
  if (!ready) proc_->kill();
  return ready;
}

pid_t RedisServer::pid() const { return proc_ ? proc_->pid() : -1; }

bool RedisServer::running() const { return proc_ && proc_->running(); }

void RedisServer::stop() {
  if (!proc_) return;
  // Redis ignores a SIGTERM that arrives while it cannot shut down yet (e.g. "Writing initial
  // AOF, can't exit"): ask again until it goes, then force it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  while (proc_->running() && std::chrono::steady_clock::now() < deadline) {
    proc_->signal(SIGTERM);
    if (proc_->wait_for_exit(std::chrono::milliseconds{500})) return;
  }
  proc_->kill();
}

void RedisServer::kill() {
  if (proc_) proc_->kill();
}

Status RedisServer::restart() {
  stop();
  detail::wait_until_port_closed(port_, std::chrono::seconds{5});
  return launch();
}

Result<std::unique_ptr<SentinelServer>> SentinelServer::start(SentinelOptions options) {
  if (auto s = prepare_dir(options.dir, "sentinel"); !s) return std::move(s).error();
  if (options.master_port == 0)
    return Error{Errc::invalid_request, "sentinel: master_port is required"};
  auto program = find_program("redis-sentinel");
  if (!program) return std::move(program).error();
  auto server = std::make_unique<SentinelServer>();
  const bool auto_port = options.port == 0;
  server->options_ = std::move(options);
  const auto& o = server->options_;
  const std::filesystem::path conf = o.dir / "sentinel.conf";
  for (int attempt = 1;; ++attempt) {
    server->port_ = auto_port ? free_port() : o.port;
    {
      // Sentinel rewrites its config file (discovered peers, epochs): a file it can write.
      std::ofstream out(conf, std::ios::trunc);
      out << "port " << server->port_ << "\n"
          << "bind 127.0.0.1\n"
          << "protected-mode no\n"
          << "daemonize no\n"
          << "logfile \"\"\n"
          << "dir \"" << o.dir.string() << "\"\n"
          << "sentinel resolve-hostnames no\n"
          << "sentinel monitor " << o.master_name << " " << o.master_host << " " << o.master_port
          << " " << o.quorum << "\n"
          << "sentinel down-after-milliseconds " << o.master_name << " " << o.down_after.count()
          << "\n"
          << "sentinel failover-timeout " << o.master_name << " " << o.failover_timeout.count()
          << "\n"
          << "sentinel parallel-syncs " << o.master_name << " 1\n";
      if (!out) return Error{Errc::internal, "sentinel: cannot write " + conf.string()};
    }
    ChildProcess::Options child;
    child.argv = {program->string(), conf.string()};
    child.log_file = server->log_file();
    child.working_dir = o.dir;
    auto proc = ChildProcess::spawn(std::move(child));
    if (!proc) return std::move(proc).error();
    server->proc_ = std::move(*proc);
    const std::uint16_t port = server->port_;
    auto ready = detail::wait_until_ready(
        *server->proc_,
        [port, pid = server->proc_->pid()] {
          return detail::redis_ready(port, pid, std::chrono::milliseconds{500});
        },
        o.start_timeout, "redis-sentinel on port " + std::to_string(port), server->log_file());
    if (ready) return server;
    server->proc_->kill();
    if (!auto_port || attempt >= kAutoPortAttempts || !lost_port_race(ready.error())) {
      return std::move(ready).error();
    }
  }
}

std::filesystem::path SentinelServer::log_file() const { return options_.dir / "sentinel.log"; }

pid_t SentinelServer::pid() const { return proc_ ? proc_->pid() : -1; }

void SentinelServer::stop() {
  if (proc_) proc_->stop();
}

void SentinelServer::kill() {
  if (proc_) proc_->kill();
}

}  // namespace fs::stack
