// While a sale is paused for a rebuild from the ledger, units are not given back (the rewrite
// would overwrite them); the caller's retry after the pause returns them exactly once.
#include <gtest/gtest.h>

#include "inventory/stock_keys.hpp"
#include "inventory/stock_scripts.hpp"
#include "support/servers.hpp"

namespace fs::test {
namespace {

TEST(PausedSale, ReleaseWaitsForTheRebuildThenReturnsOnce) {
  const auto port = shared_redis().port();
  const std::string product = unique_name("paused");
  inventory::StockKeys keys(product, 1);
  ASSERT_TRUE(redis_cli(port, {"SET", keys.shard(0), "5"}).ok());
  ASSERT_TRUE(redis_cli(port, {"HSET", keys.users(), "u1", "1"}).ok());
  ASSERT_TRUE(redis_cli(port, {"HSET", keys.holds(), "r1", "c|0|1|u1|1795669217123"}).ok());
  ASSERT_TRUE(redis_cli(port, {"SET", keys.paused(), "1", "PX", "60000"}).ok());
  const auto& release = inventory::release_script();
  const std::vector<std::string> call{
      "EVAL",        release.source, "4",  keys.users(), keys.holds(),
      keys.shard(0), keys.paused(),  "r1", "u1",         "1"};
  EXPECT_EQ(redis_cli(port, call).value(), "-1");
  EXPECT_EQ(redis_cli(port, {"GET", keys.shard(0)}).value(), "5");
  EXPECT_EQ(redis_cli(port, {"HEXISTS", keys.holds(), "r1"}).value(), "1");

  ASSERT_TRUE(redis_cli(port, {"DEL", keys.paused()}).ok());
  EXPECT_EQ(redis_cli(port, call).value(), "1");
  EXPECT_EQ(redis_cli(port, call).value(), "0");
  EXPECT_EQ(redis_cli(port, {"GET", keys.shard(0)}).value(), "6");
  EXPECT_EQ(redis_cli(port, {"HEXISTS", keys.users(), "u1"}).value(), "0");
}

}  // namespace
}  // namespace fs::test
