#include <gtest/gtest.h>

#include "stack/local_servers.hpp"
#include "support/scratch_dir.hpp"
#include "support/servers.hpp"

namespace fs::stack {
namespace {

using namespace std::chrono_literals;
using test::redis_cli;

TEST(RedisServer, SharedServerAnswersCommands) {
  auto& redis = test::shared_redis();
  const std::string key = test::unique_name("k");
  ASSERT_EQ(redis_cli(redis.port(), {"PING"}).value(), "PONG");
  ASSERT_EQ(redis_cli(redis.port(), {"SET", key, "v1"}).value(), "OK");
  EXPECT_EQ(redis_cli(redis.port(), {"GET", key}).value(), "v1");
  EXPECT_EQ(redis_cli(redis.port(), {"CONFIG", "GET", "appendonly"}).value(), "appendonly\nyes");
  EXPECT_EQ(redis_cli(redis.port(), {"CONFIG", "GET", "bind"}).value(), "bind\n127.0.0.1");
  EXPECT_EQ(redis_cli(redis.port(), {"CONFIG", "GET", "stream-node-max-bytes"}).value(),
            "stream-node-max-bytes\n1024");
}

TEST(RedisServer, KillClosesPortAndRestartReusesPortAndData) {
  test::ScratchDir dir;
  RedisOptions options;
  options.dir = dir.path();
  auto started = RedisServer::start(std::move(options));
  ASSERT_TRUE(started.ok()) << started.error().message;
  auto& redis = **started;
  const auto port = redis.port();
  ASSERT_EQ(redis_cli(port, {"SET", "survivor", "yes"}).value(), "OK");
  // appendfsync everysec: a graceful stop flushes the AOF.
  redis.stop();
  EXPECT_FALSE(port_accepts_connections(port));
  ASSERT_TRUE(redis.restart().ok());
  EXPECT_EQ(redis.port(), port);
  EXPECT_EQ(redis_cli(port, {"GET", "survivor"}).value(), "yes");

  const pid_t old_pid = redis.pid();
  redis.kill();
  EXPECT_FALSE(redis.running());
  EXPECT_FALSE(port_accepts_connections(port));
  EXPECT_NE(::kill(old_pid, 0), 0) << "SIGKILLed server must be reaped";
  auto restarted = redis.restart();
  ASSERT_TRUE(restarted.ok()) << restarted.error().message;
  EXPECT_EQ(redis_cli(port, {"PING"}).value(), "PONG");
  EXPECT_EQ(redis_cli(port, {"GET", "survivor"}).value(), "yes");
}

TEST(RedisServer, ReplicaFollowsMaster) {
  test::ScratchDir dir;
  RedisOptions master_options;
  master_options.dir = dir.path() / "master";
  master_options.append_only = false;
  auto master = RedisServer::start(std::move(master_options));
  ASSERT_TRUE(master.ok()) << master.error().message;
  RedisOptions replica_options;
  replica_options.dir = dir.path() / "replica";
  replica_options.replica_of = std::make_pair(std::string("127.0.0.1"), (*master)->port());
  auto replica = RedisServer::start(std::move(replica_options));
  ASSERT_TRUE(replica.ok()) << replica.error().message;
  ASSERT_EQ(redis_cli((*master)->port(), {"SET", "replicated", "42"}).value(), "OK");
  EXPECT_TRUE(test::wait_until([&] {
    auto v = redis_cli((*replica)->port(), {"GET", "replicated"});
    return v.ok() && *v == "42";
  }));
}

TEST(RedisServer, StartFailureCarriesTheLog) {
  test::ScratchDir dir;
  RedisOptions options;
  options.dir = dir.path();
  options.extra_args = {"--no-such-option", "x"};
  auto started = RedisServer::start(std::move(options));
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.error().message.find("no-such-option"), std::string::npos)
      << started.error().message;
}

TEST(RedisServer, FixedPortInUseFails) {
  auto& shared = test::shared_redis();
  test::ScratchDir dir;
  RedisOptions options;
  options.dir = dir.path();
  options.port = shared.port();
  auto started = RedisServer::start(std::move(options));
  EXPECT_FALSE(started.ok());
}

}  // namespace
}  // namespace fs::stack
