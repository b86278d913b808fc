#include "reservation/stock_reconciler.hpp"

#include <gtest/gtest.h>

#include "inventory/stock_shards.hpp"

namespace fs::reservation {
namespace {

TEST(StockReconciler, RunIdFromInfoServer) {
  const std::string info =
      "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n"
      "run_id:3edac4badd8eecc71a9a4b7f06033034fe18b67c\r\ntcp_port:6379\r\n";
  EXPECT_EQ(run_id_from_info(info), "3edac4badd8eecc71a9a4b7f06033034fe18b67c");
  EXPECT_EQ(run_id_from_info("run_id:abc"), "abc");
  EXPECT_EQ(run_id_from_info("# Server\r\nredis_version:7.0.15\r\n"), "");
}

TEST(StockReconciler, RebuiltHoldRecordsParseBack) {
  inventory::Hold h;
  h.reservation_id = "5f0c8f0e-0000-4000-8000-000000000001";
  h.state = 'c';
  h.shard = 7;
  h.quantity = 2;
  h.user_id = "user-42";
  h.taken_at_ms = 1795669217123;
  const std::string record = inventory::hold_record(h);
  EXPECT_EQ(record, "c|7|2|user-42|1795669217123");
  inventory::Hold back;
  ASSERT_TRUE(inventory::parse_hold(h.reservation_id, record, back));
  EXPECT_EQ(back.reservation_id, h.reservation_id);
  EXPECT_EQ(back.state, 'c');
  EXPECT_EQ(back.shard, 7);
  EXPECT_EQ(back.quantity, 2);
  EXPECT_EQ(back.user_id, "user-42");
  EXPECT_EQ(back.taken_at_ms, h.taken_at_ms);
}

}  // namespace
}  // namespace fs::reservation
