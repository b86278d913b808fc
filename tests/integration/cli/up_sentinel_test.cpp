// `flashsale up --sentinel`: Redis as a master, a replica and three sentinels (quorum 2), the
// service and workers following the master through them; the demo sale still holds every
// invariant.
#include <gtest/gtest.h>

#include "stack/local_servers.hpp"
#include "support/scratch_dir.hpp"

namespace fs::test {
namespace {

TEST(FlashsaleUpSentinel, RunsTheDemoSaleThroughSentinel) {
  ScratchDir dir("up-sentinel");
  const auto data = dir.path() / "data";
  auto out = stack::run_command({FLASHSALE_BINARY, "up", "--sentinel", "--data-dir", data.string(),
                                 "--http-port", "0", "--demo-users", "2000", "--demo-stock", "50",
                                 "--demo-connections", "64", "--exit-after-demo"},
                                std::chrono::seconds{240});
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_NE(out->find("redis-sentinel x3 (quorum 2"), std::string::npos) << *out;
  EXPECT_NE(out->find("invariants: OK"), std::string::npos) << *out;
  EXPECT_NE(out->find("conservation OK"), std::string::npos) << *out;
  for (const char* sub : {"redis", "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3"})
    EXPECT_TRUE(std::filesystem::exists(data / sub)) << sub;
  // Each sentinel rewrote its config with what it discovered: the replica and its two peers.
  EXPECT_TRUE(std::filesystem::exists(data / "sentinel-1" / "sentinel.conf"));
}

}  // namespace
}  // namespace fs::test
