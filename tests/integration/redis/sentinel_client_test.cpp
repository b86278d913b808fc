// The client following a Redis master through Sentinel (seed flow 9): it skips a dead sentinel,
// fails fast while there is no master, and reaches the promoted replica after a failover.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <thread>

#include "redis/redis_client_impl.hpp"
#include "redis_test_env.hpp"
#include "stack/local_servers.hpp"
#include "support/run_coroutine.hpp"
#include "support/servers.hpp"

namespace fs::redis {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
using test::run_coroutine;

ClientConfig sentinel_config(test::SentinelCluster& cluster, std::uint16_t dead_sentinel) {
  ClientConfig config = test::client_config(1);  // host:port unused with sentinels
  config.command_timeout = 500ms;
  config.sentinel.master_name = cluster.master_name();
  // A sentinel that is down comes first: resolution must go on to the others.
  config.sentinel.sentinels.push_back({"127.0.0.1", dead_sentinel});
  for (auto port : cluster.sentinel_ports())
    config.sentinel.sentinels.push_back({"127.0.0.1", port});
  return config;
}

std::string server_port_of(asio::io_context& io, Client& client) {
  auto info = run_coroutine(io, client.command("INFO", "server"));
  if (!info) return "error: " + info.error().message;
  auto at = info->str.find("tcp_port:");
  if (at == std::string::npos) return "no tcp_port";
  return info->str.substr(at + 9, info->str.find_first_of("\r\n", at) - at - 9);
}

TEST(SentinelClient, FollowsTheMasterThroughAFailoverAndFailsFastInTheGap) {
  test::SentinelCluster::Options o;
  o.down_after = 1000ms;
  o.failover_timeout = 3000ms;
  auto started = test::SentinelCluster::start(o);
  ASSERT_TRUE(started.ok()) << started.error().message;
  auto& cluster = **started;
  asio::io_context io{1};
  auto client = make_client(io.get_executor(), sentinel_config(cluster, stack::free_port()));

  auto set = run_coroutine(io, client->command("SET", "sentinel-client", "before"));
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(server_port_of(io, *client), std::to_string(cluster.master().port()));

  cluster.master().kill();
  const auto killed_at = SteadyClock::now();
  SteadyClock::duration slowest{};
  int failed = 0;
  bool back = false;
  while (SteadyClock::now() - killed_at < 20s) {
    const auto start = SteadyClock::now();
    auto r = run_coroutine(io, client->command("SET", "sentinel-client", "after"));
    slowest = std::max(slowest, SteadyClock::now() - start);
    if (r.ok()) {
      back = true;
      break;
    }
    ++failed;
    EXPECT_TRUE(r.code() == Errc::unavailable || r.code() == Errc::timeout) << r.error().message;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(back) << "no write succeeded within 20 s of the master's death";
  EXPECT_GT(failed, 0);
  // Nothing waits longer than a command timeout (plus scheduling slack).
  EXPECT_LT(slowest, 1500ms);
  EXPECT_EQ(server_port_of(io, *client), std::to_string(cluster.replica(0).port()));
  auto got = run_coroutine(io, client->command("GET", "sentinel-client"));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->str, "after");
  std::printf("sentinel client: %d failed commands, writes again %.2f s after the kill\n", failed,
              std::chrono::duration<double>(SteadyClock::now() - killed_at).count());
}

TEST(SentinelClient, UnknownMasterNameFailsFast) {
  test::SentinelCluster::Options o;
  o.sentinels = 1;
  o.quorum = 1;
  o.replicas = 0;
  auto started = test::SentinelCluster::start(o);
  ASSERT_TRUE(started.ok()) << started.error().message;
  asio::io_context io{1};
  ClientConfig config = test::client_config(1);
  config.sentinel.master_name = "no-such-master";
  for (auto port : (*started)->sentinel_ports())
    config.sentinel.sentinels.push_back({"127.0.0.1", port});
  auto client = make_client(io.get_executor(), config);
  for (int i = 0; i < 3; ++i) {
    const auto start = SteadyClock::now();
    auto r = run_coroutine(io, client->command("PING"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.code(), Errc::unavailable) << r.error().message;
    EXPECT_LT(SteadyClock::now() - start, 1500ms);
  }
}

}  // namespace
}  // namespace fs::redis
