#include <gtest/gtest.h>

#include "stack/local_servers.hpp"
#include "support/servers.hpp"

namespace fs::stack {
namespace {

using namespace std::chrono_literals;

TEST(SentinelServer, ReportsTheMasterAndFailsOverWhenItDies) {
  auto started = test::SentinelCluster::start();
  ASSERT_TRUE(started.ok()) << started.error().message;
  auto& cluster = **started;
  const auto master_port = cluster.master().port();
  const auto replica_port = cluster.replica(0).port();
  for (std::size_t i = 0; i < cluster.sentinels().size(); ++i) {
    auto seen = cluster.master_port_seen_by(i);
    ASSERT_TRUE(seen.ok()) << seen.error().message;
    EXPECT_EQ(*seen, master_port);
  }
  ASSERT_EQ(test::redis_cli(master_port, {"SET", "before-failover", "1"}).value(), "OK");
  ASSERT_TRUE(test::wait_until([&] {
    auto v = test::redis_cli(replica_port, {"GET", "before-failover"});
    return v.ok() && *v == "1";
  }));

  cluster.master().kill();
  const auto killed_at = std::chrono::steady_clock::now();
  bool promoted = test::wait_until(
      [&] {
        for (std::size_t i = 0; i < cluster.sentinels().size(); ++i) {
          auto seen = cluster.master_port_seen_by(i);
          if (seen.ok() && *seen == replica_port) return true;
        }
        return false;
      },
      15s, 100ms);
  ASSERT_TRUE(promoted) << "no sentinel reported the replica as master";
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, 15s);
  EXPECT_TRUE(test::wait_until([&] {
    auto info = test::redis_cli(replica_port, {"INFO", "replication"});
    return info.ok() && info->find("role:master") != std::string::npos;
  }));
  // The promoted replica kept the data and takes writes.
  EXPECT_EQ(test::redis_cli(replica_port, {"GET", "before-failover"}).value(), "1");
  EXPECT_EQ(test::redis_cli(replica_port, {"SET", "after-failover", "1"}).value(), "OK");
}

}  // namespace
}  // namespace fs::stack
