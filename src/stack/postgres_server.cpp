// PostgresServer: a PostgreSQL cluster in a directory, its postmaster in the foreground as our
// child. No libpq here on purpose (fs_stack sits below the adapters): readiness and set-up go
// through postmaster.pid and psql.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <thread>

#include "stack/local_servers.hpp"
#include "stack/readiness.hpp"

namespace fs::stack {
namespace {

namespace sfs = std::filesystem;
using namespace std::chrono_literals;

bool is_root() { return ::geteuid() == 0; }

std::optional<std::string> server_user(const PostgresOptions& o) {
  if (is_root()) return o.os_user;
  return std::nullopt;
}

// Tools of the same installation as the server binary; PATH holds Debian's version-switching
// wrappers, which cost a Perl start-up per call.
Result<sfs::path> pg_tool(const std::string& name) {
  auto server = find_program("postgres");
  if (server) {
    sfs::path sibling = server->parent_path() / name;
    if (::access(sibling.c_str(), X_OK) == 0) return sibling;
  }
  return find_program(name);
}

Result<std::string> pg_major_version() {
  auto server = pg_tool("postgres");
  if (!server) return std::move(server).error();
  auto out = run_command({server->string(), "--version"}, 10s);
  if (!out) return std::move(out).error();
  std::smatch m;
  static const std::regex kVersion(R"(\(PostgreSQL\) (\d+))");
  if (!std::regex_search(*out, m, kVersion)) {
    return Error{Errc::protocol_error, "cannot parse postgres --version: " + *out};
  }
  return m[1].str();
}

// The server runs as os_user: it must be able to walk down to its data directory.
void make_ancestors_traversable(const sfs::path& dir) {
  if (!is_root()) return;
  for (sfs::path p = dir.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0) {
      ::chmod(p.c_str(), (st.st_mode & 07777) | S_IXGRP | S_IXOTH);
    }
  }
}

Status give_to_server_user(const sfs::path& dir, const PostgresOptions& o, bool recursive) {
  if (is_root()) {
    std::vector<std::string> argv = {"chown"};
    if (recursive) argv.push_back("-R");
    argv.insert(argv.end(), {o.os_user + ":", dir.string()});
    if (auto r = run_command(argv, 60s); !r) return std::move(r).error();
  }
  // PostgreSQL refuses a data directory that others can read.
  if (::chmod(dir.c_str(), 0700) != 0) {
    return Error{Errc::internal, "chmod 0700 " + dir.string() + " failed"};
  }
  return {};
}

Status run_initdb(const sfs::path& dir, const PostgresOptions& o, bool no_sync) {
  auto initdb = pg_tool("initdb");
  if (!initdb) return std::move(initdb).error();
  std::vector<std::string> argv = {
      initdb->string(), "-D", dir.string(), "-U",         "postgres",
      "--auth=trust",   "-E", "UTF8",       "--locale=C", "--no-instructions"};
  if (no_sync) argv.push_back("--no-sync");
  auto r = run_command(argv, 120s, server_user(o));
  if (!r) return Error{r.code(), "initdb failed: " + r.error().message};
  return {};
}

// One initdb per PG version and user, shared by every later cluster: initdb takes seconds,
// copying its result a fraction of that. Published atomically (build aside, then rename).
Result<sfs::path> cluster_template(const PostgresOptions& o) {
  auto version = pg_major_version();
  if (!version) return std::move(version).error();
  const char* tmp = std::getenv("TMPDIR");
  sfs::path base = tmp && *tmp ? tmp : "/tmp";
  sfs::path tmpl = base / ("flashsale-pg-template-" + std::to_string(::getuid()) + "-" + o.os_user +
                           "-" + *version);
  std::error_code ec;
  if (sfs::exists(tmpl / "PG_VERSION", ec)) return tmpl;

  std::string scratch_pattern = tmpl.string() + ".tmp-XXXXXX";
  std::vector<char> buf(scratch_pattern.begin(), scratch_pattern.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data()))
    return Error{Errc::internal, "mkdtemp " + scratch_pattern + " failed"};
  sfs::path scratch = buf.data();
  make_ancestors_traversable(scratch);
  auto cleanup = [&] { sfs::remove_all(scratch, ec); };
  if (auto s = give_to_server_user(scratch, o, false); !s) {
    cleanup();
    return std::move(s).error();
  }
  if (auto s = run_initdb(scratch, o, true); !s) {
    cleanup();
    return std::move(s).error();
  }
  if (::rename(scratch.c_str(), tmpl.c_str()) != 0) {
    cleanup();  // another process published it first
    if (!sfs::exists(tmpl / "PG_VERSION", ec)) {
      return Error{Errc::internal, "cannot publish " + tmpl.string()};
    }
  }
  return tmpl;
}

Status create_cluster(const sfs::path& dir, const PostgresOptions& o) {
  std::error_code ec;
  sfs::create_directories(dir, ec);
  if (ec) return Error{Errc::internal, "cannot create " + dir.string() + ": " + ec.message()};
  if (!sfs::is_empty(dir, ec)) {
    return Error{Errc::invalid_request,
                 dir.string() + " is neither empty nor a PostgreSQL data directory"};
  }
  make_ancestors_traversable(dir);
  if (auto s = give_to_server_user(dir, o, false); !s) return s;
  if (!o.fast_initdb) return run_initdb(dir, o, false);
  auto tmpl = cluster_template(o);
  if (!tmpl) return std::move(tmpl).error();
  // cp -a keeps the template's owner (os_user) and modes.
  auto r = run_command({"cp", "-a", (*tmpl / ".").string(), dir.string()}, 120s);
  if (!r) return std::move(r).error();
  return give_to_server_user(dir, o, true);
}

std::string sql_literal(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

std::string sql_identifier(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::uintmax_t size_of(const sfs::path& file) {
  std::error_code ec;
  auto size = sfs::file_size(file, ec);
  return ec ? 0 : size;
}

// What the server logged since `from` (a size_of() taken before it started).
std::string log_since(const sfs::path& log, std::uintmax_t from) {
  auto size = size_of(log);
  if (size <= from) return {};
  return detail::log_tail(log,
                          static_cast<std::size_t>(std::min<std::uintmax_t>(size - from, 1 << 20)));
}

// postmaster.pid: line 1 is the postmaster's pid, line 8 its status ("ready" once it accepts
// connections). See PostgreSQL's src/include/utils/pidfile.h.
bool postmaster_ready(const sfs::path& dir, pid_t pid) {
  std::ifstream in(dir / "postmaster.pid");
  std::string line;
  std::vector<std::string> lines;
  while (lines.size() < 8 && std::getline(in, line)) lines.push_back(line);
  return lines.size() == 8 && lines[0] == std::to_string(pid) && lines[7].rfind("ready", 0) == 0;
}

}  // namespace

Result<std::unique_ptr<PostgresServer>> PostgresServer::start(PostgresOptions options) {
  if (options.dir.empty()) return Error{Errc::invalid_request, "postgres: dir is required"};
  std::error_code ec;
  options.dir = sfs::absolute(options.dir, ec).lexically_normal();
  if (!options.dir.has_filename()) options.dir = options.dir.parent_path();
  if (!sfs::exists(options.dir / "PG_VERSION", ec)) {
    if (auto s = create_cluster(options.dir, options); !s) return std::move(s).error();
  }
  auto server = std::make_unique<PostgresServer>();
  server->options_ = std::move(options);
  server->port_ = server->options_.port;
  if (auto s = server->launch(); !s) return std::move(s).error();

  const auto& o = server->options_;
  auto role = server->psql("SELECT 1 FROM pg_roles WHERE rolname = " + sql_literal(o.db_user));
  if (!role) return std::move(role).error();
  if (role->find('1') == std::string::npos) {
    auto r = server->psql("CREATE ROLE " + sql_identifier(o.db_user) + " LOGIN PASSWORD " +
                          sql_literal(o.db_password));
    if (!r) return std::move(r).error();
  }
  auto db = server->psql("SELECT 1 FROM pg_database WHERE datname = " + sql_literal(o.database));
  if (!db) return std::move(db).error();
  if (db->find('1') == std::string::npos) {
    auto r = server->psql("CREATE DATABASE " + sql_identifier(o.database) + " OWNER " +
                          sql_identifier(o.db_user));
    if (!r) return std::move(r).error();
  }
  if (auto s = server->prepare_wal(); !s) return std::move(s).error();
  return server;
}

std::size_t PostgresServer::wal_segments() const {
  std::size_t n = 0;
  std::error_code ec;
  for (sfs::directory_iterator it(options_.dir / "pg_wal", ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() == 24 && name.find_first_not_of("0123456789ABCDEF") == std::string::npos) ++n;
  }
  return n;
}

Status PostgresServer::prepare_wal() {
  constexpr std::size_t kSegmentMb = 16;  // initdb's default --wal-segsize
  const std::size_t want = (options_.wal_ready_mb + kSegmentMb - 1) / kSegmentMb;
  const std::size_t have = wal_segments();
  if (have >= want) return {};  // the segment being written, and want - 1 more
  // pg_switch_wal() ends the segment only when it holds WAL since the last switch: a
  // non-transactional logical message (no table, any wal_level) gives it one. Each switch's
  // next record starts a new segment, created here rather than under a sale's commit.
  auto made = psql("DO $$BEGIN FOR i IN 1.." + std::to_string(want - have + 1) +
                   " LOOP PERFORM pg_logical_emit_message(false, 'flashsale', 'wal'); "
                   "PERFORM pg_switch_wal(); END LOOP; END$$");
  if (!made) return std::move(made).error();
  // The checkpoint renames the segments it no longer needs into future ones (min_wal_size
  // keeps them), so they are ready when the WAL gets there.
  auto checkpoint = psql("CHECKPOINT");
  if (!checkpoint) return std::move(checkpoint).error();
  return {};
}

std::filesystem::path PostgresServer::log_file() const {
  return options_.dir.parent_path() / (options_.dir.filename().string() + ".log");
}

Status PostgresServer::launch() {
  auto server_bin = pg_tool("postgres");
  if (!server_bin) return std::move(server_bin).error();
  const bool auto_port = port_ == 0;
  const auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  Error last{Errc::unavailable, "postgres did not start"};
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto_port) port_ = free_port();
    // A killed postmaster's port frees at once, its orphaned backends linger a little longer;
    // PostgreSQL itself refuses to start while they hold the old shared memory (retried below).
    detail::wait_until_port_closed(port_, 10s);
    std::vector<std::string> argv = {
        server_bin->string(), "-D", options_.dir.string(), "-p", std::to_string(port_), "-c",
        "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c",
        "max_connections=" + std::to_string(options_.max_connections),
        // Durability is part of the product: the tests run with it too.
        "-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "shared_buffers=128MB"};
    if (options_.wal_ready_mb > 0) {
      const std::size_t min_mb = std::max<std::size_t>(options_.wal_ready_mb, 80);
      const std::size_t max_mb = std::max<std::size_t>(2 * min_mb, 1024);
      argv.insert(argv.end(), {"-c", "min_wal_size=" + std::to_string(min_mb) + "MB", "-c",
                               "max_wal_size=" + std::to_string(max_mb) + "MB"});
    }
    for (const auto& setting : options_.extra_settings) argv.insert(argv.end(), {"-c", setting});
    const auto log_start = size_of(log_file());
    ChildProcess::Options child;
    child.argv = std::move(argv);
    child.log_file = log_file();
    child.run_as_user = server_user(options_);
    child.working_dir = options_.dir;
    // Fast shutdown on stop() and when we die: no orphaned postmaster, a clean checkpoint.
    child.stop_signal = SIGINT;
    child.death_signal = SIGINT;
    auto proc = ChildProcess::spawn(std::move(child));
    if (!proc) return std::move(proc).error();
    proc_ = std::move(*proc);

    const std::string port_str = std::to_string(port_);
    const std::uint16_t port = port_;
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto ready = detail::wait_until_ready(
        *proc_,
        [&, pid = proc_->pid()] {
          // Our postmaster (not another server holding the port) says it accepts connections;
          // during crash recovery it is still "starting".
          return postmaster_ready(options_.dir, pid) && port_accepts_connections(port);
        },
        std::max(remaining, std::chrono::milliseconds{1000}), "postgres on port " + port_str,
        log_file());
    if (ready) return {};
    proc_->kill();
    last = std::move(ready).error();
    if (last.code == Errc::timeout) break;
    const std::string attempt_log = log_since(log_file(), log_start);
    const bool port_taken = attempt_log.find("Address already in use") != std::string::npos;
    const bool old_instance_lingers =
        attempt_log.find("pre-existing shared memory block") != std::string::npos ||
        attempt_log.find("lock file \"postmaster.pid\" already exists") != std::string::npos;
    if (!(auto_port && port_taken) && !old_instance_lingers) break;
    std::this_thread::sleep_for(100ms);
  }
  return last;
}

std::string PostgresServer::conninfo() const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + options_.database +
         " user=" + options_.db_user + " password=" + options_.db_password;
}

std::string PostgresServer::conninfo(const std::string& database, const std::string& user) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + database + " user=" + user;
}

Result<std::string> PostgresServer::psql(const std::string& sql,
                                         const std::string& database) const {
  auto psql_bin = pg_tool("psql");
  if (!psql_bin) return std::move(psql_bin).error();
  return run_command(
      {psql_bin->string(), "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
       std::to_string(port_), "-U", "postgres", "-d", database, "-c", sql},
      60s);
}

pid_t PostgresServer::pid() const { return proc_ ? proc_->pid() : -1; }

bool PostgresServer::running() const { return proc_ && proc_->running(); }

void PostgresServer::stop() {
  if (proc_) proc_->stop(std::chrono::seconds{30});
}

void PostgresServer::kill() {
  if (proc_) proc_->kill();
}

Status PostgresServer::restart() {
  stop();
  return launch();
}

}  // namespace fs::stack
