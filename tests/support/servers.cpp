#include "support/servers.hpp"

#include <unistd.h>

#include <atomic>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace fs::test {

pg::DatabaseConfig database_config(const std::string& conninfo, std::size_t connections) {
  pg::DatabaseConfig c;
  c.conninfo = conninfo;
  c.connections = connections;
  c.query_timeout = std::chrono::seconds{10};
  return c;
}
namespace {

// Members in declaration order: the server stops before its directory is removed.
struct SharedRedis {
  ScratchDir dir{"flashsale-redis"};
  std::unique_ptr<stack::RedisServer> server;
  SharedRedis() {
    stack::RedisOptions options;
    options.dir = dir.path() / "redis";
    auto started = stack::RedisServer::start(std::move(options));
    if (!started) throw std::runtime_error("shared_redis: " + started.error().message);
    server = std::move(*started);
  }
};

struct SharedPostgres {
  ScratchDir dir{"flashsale-pg"};
  std::unique_ptr<stack::PostgresServer> server;
  SharedPostgres() {
    stack::PostgresOptions options;
    options.dir = dir.path() / "pgdata";
    auto started = stack::PostgresServer::start(std::move(options));
    if (!started) throw std::runtime_error("shared_postgres: " + started.error().message);
    server = std::move(*started);
  }
};

// Field/value lines of a redis-cli reply such as SENTINEL master or INFO.
std::map<std::string, std::string> reply_fields(const std::string& text) {
  std::map<std::string, std::string> fields;
  std::istringstream in(text);
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (auto colon = line.find(':');
        colon != std::string::npos && line.find(' ') == std::string::npos) {
      fields[line.substr(0, colon)] = line.substr(colon + 1);  // INFO style "key:value"
    }
    lines.push_back(line);
  }
  for (std::size_t i = 0; i + 1 < lines.size(); i += 2) fields.emplace(lines[i], lines[i + 1]);
  return fields;
}

std::string field(const std::map<std::string, std::string>& fields, const std::string& key) {
  auto it = fields.find(key);
  return it == fields.end() ? std::string{} : it->second;
}

}  // namespace

stack::RedisServer& shared_redis() {
  static SharedRedis shared;
  return *shared.server;
}

stack::PostgresServer& shared_postgres() {
  static SharedPostgres shared;
  return *shared.server;
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<unsigned> counter{0};
  return prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
}

std::string fresh_database(stack::PostgresServer& server) {
  const std::string name = unique_name("db");
  const auto& o = server.options();
  auto created = server.psql("CREATE DATABASE " + name + " OWNER \"" + o.db_user + "\"");
  if (!created) throw std::runtime_error("fresh_database: " + created.error().message);
  return "host=127.0.0.1 port=" + std::to_string(server.port()) + " dbname=" + name +
         " user=" + o.db_user + " password=" + o.db_password;
}

Result<std::string> redis_cli(std::uint16_t port, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"redis-cli", "-h", "127.0.0.1", "-p", std::to_string(port)};
  argv.insert(argv.end(), args.begin(), args.end());
  auto out = stack::run_command(argv, std::chrono::seconds{10});
  if (out && !out->empty() && out->back() == '\n') out->pop_back();
  return out;
}

bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (predicate()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return predicate();
    std::this_thread::sleep_for(interval);
  }
}

Result<std::unique_ptr<SentinelCluster>> SentinelCluster::start(Options options) {
  auto cluster = std::unique_ptr<SentinelCluster>(new SentinelCluster());
  cluster->options_ = options;
  const auto& root = cluster->dir_.path();

  stack::RedisOptions master_options;
  master_options.dir = root / "redis-0";
  auto master = stack::RedisServer::start(std::move(master_options));
  if (!master) return std::move(master).error();
  const std::uint16_t master_port = (*master)->port();
  cluster->redis_.push_back(std::move(*master));
  for (int i = 1; i <= options.replicas; ++i) {
    stack::RedisOptions replica_options;
    replica_options.dir = root / ("redis-" + std::to_string(i));
    replica_options.replica_of = std::make_pair(std::string("127.0.0.1"), master_port);
    auto replica = stack::RedisServer::start(std::move(replica_options));
    if (!replica) return std::move(replica).error();
    cluster->redis_.push_back(std::move(*replica));
  }
  bool synced = wait_until(
      [&] {
        for (std::size_t i = 1; i < cluster->redis_.size(); ++i) {
          auto info = redis_cli(cluster->redis_[i]->port(), {"INFO", "replication"});
          if (!info || field(reply_fields(*info), "master_link_status") != "up") return false;
        }
        return true;
      },
      std::chrono::seconds{30}, std::chrono::milliseconds{50});
  if (!synced) return Error{Errc::timeout, "replicas did not sync with the master"};

  for (int i = 0; i < options.sentinels; ++i) {
    stack::SentinelOptions sentinel_options;
    sentinel_options.dir = root / ("sentinel-" + std::to_string(i));
    sentinel_options.master_name = options.master_name;
    sentinel_options.master_port = master_port;
    sentinel_options.quorum = options.quorum;
    sentinel_options.down_after = options.down_after;
    sentinel_options.failover_timeout = options.failover_timeout;
    auto sentinel = stack::SentinelServer::start(std::move(sentinel_options));
    if (!sentinel) return std::move(sentinel).error();
    cluster->sentinels_.push_back(std::move(*sentinel));
  }
  // Sentinels find replicas through INFO and each other through hello messages (every 2 s);
  // a failover before that would lack the quorum or a candidate.
  const std::string want_replicas = std::to_string(options.replicas);
  const std::string want_peers = std::to_string(options.sentinels - 1);
  bool discovered = wait_until(
      [&] {
        for (auto& sentinel : cluster->sentinels_) {
          auto reply = redis_cli(sentinel->port(), {"SENTINEL", "master", options.master_name});
          if (!reply) return false;
          auto fields = reply_fields(*reply);
          if (field(fields, "num-slaves") != want_replicas ||
              field(fields, "num-other-sentinels") != want_peers) {
            return false;
          }
        }
        return true;
      },
      std::chrono::seconds{30}, std::chrono::milliseconds{100});
  if (!discovered) return Error{Errc::timeout, "sentinels did not discover replicas and peers"};
  return cluster;
}

std::vector<std::uint16_t> SentinelCluster::sentinel_ports() const {
  std::vector<std::uint16_t> ports;
  for (const auto& s : sentinels_) ports.push_back(s->port());
  return ports;
}

Result<std::uint16_t> SentinelCluster::master_port_seen_by(std::size_t i) {
  auto reply = redis_cli(sentinels_.at(i)->port(),
                         {"SENTINEL", "get-master-addr-by-name", options_.master_name});
  if (!reply) return std::move(reply).error();
  auto newline = reply->find('\n');
  if (newline == std::string::npos) return Error{Errc::protocol_error, "unexpected: " + *reply};
  try {
    return static_cast<std::uint16_t>(std::stoul(reply->substr(newline + 1)));
  } catch (const std::exception&) {
    return Error{Errc::protocol_error, "unexpected: " + *reply};
  }
}

}  // namespace fs::test
