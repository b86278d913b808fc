// A Redis failover can lose Idempotency-Key records along with the last decrements
// (asynchronous replication). The rebuild from the ledger writes them back from the rows the
// keys created, so a client retrying a key replays its 201 instead of reserving a second time
// (invariant 7). Here the loss is made by hand on one plain redis-server: the records and the
// reconcile marker are deleted, which the service takes for a new master.
#include <gtest/gtest.h>

#include <numeric>

#include "support/sale_fixture.hpp"
#include "support/servers.hpp"

namespace fs::test {
namespace {

using namespace std::chrono_literals;

std::string run_id(std::uint16_t port) {
  auto info = redis_cli(port, {"INFO", "server"});
  if (!info) return {};
  auto at = info->find("run_id:");
  if (at == std::string::npos) return {};
  return info->substr(at + 7, 40);
}

TEST(IdempotencyAfterRebuild, LostRecordsAreWrittenBackFromTheLedger) {
  const auto port = shared_redis().port();
  ServiceUnderTest svc(port, fresh_database(shared_postgres()),
                       [](app::ServiceConfig& c) { c.reconcile_on_master_change = true; });
  const std::string id = run_id(port);
  ASSERT_EQ(id.size(), 40u);
  auto marker = [&] { return redis_cli(port, {"GET", "fs:redis:reconciled_run_id"}); };
  ASSERT_TRUE(wait_until([&] { return marker() && *marker() == id; }, 10s));

  // Per-user limit 3: without the records, a retry would simply reserve again.
  const std::string product = unique_name("idem");
  svc.put_product(product, 100, 4, 3);
  std::vector<Call> calls;
  for (int i = 0; i < 20; ++i) {
    const std::string user = product + "-u" + std::to_string(i);
    calls.push_back({"POST",
                     "/v1/reservations",
                     user_token(user),
                     reservation_body(product, 1 + i % 2),
                     {{"Idempotency-Key", "click-" + std::to_string(i)}}});
  }
  const auto first = race(svc.port(), calls, 20);
  int units = 0;
  for (std::size_t i = 0; i < first.size(); ++i) {
    ASSERT_EQ(first[i].status, 201) << first[i].body;
    units += 1 + static_cast<int>(i) % 2;
  }

  // The "failover" loses every record; the service sees a master it has not reconciled.
  for (int i = 0; i < 20; ++i) {
    const std::string user = product + "-u" + std::to_string(i);
    ASSERT_EQ(redis_cli(port, {"DEL", "fs:idem:{" + user + "}:click-" + std::to_string(i)}).value(),
              "1");
  }
  ASSERT_TRUE(
      redis_cli(port, {"DEL", "fs:redis:reconciled_run_id", "fs:redis:reconcile_lock:" + id}).ok());
  ASSERT_TRUE(wait_until([&] { return marker() && *marker() == id; }, 15s))
      << "the service did not rebuild";

  // Every retry replays the original answer, byte for byte, and reserves nothing.
  const auto again = race(svc.port(), calls, 20);
  for (std::size_t i = 0; i < again.size(); ++i) {
    EXPECT_EQ(again[i].status, 201) << again[i].body;
    EXPECT_EQ(again[i].header("idempotent-replayed"), "true");
    EXPECT_EQ(again[i].body, first[i].body);
  }
  // The restored record keeps the fingerprint: the same key with another body is a conflict.
  Call other = calls[0];
  other.body = reservation_body(product, 3);
  const auto conflict = send_one(svc.port(), other);
  EXPECT_EQ(conflict.status, 409);
  EXPECT_NE(conflict.body.find("idempotency_conflict"), std::string::npos);

  EXPECT_EQ(svc.sql("SELECT count(*) FROM reservations WHERE product_id = '" + product + "'"),
            "20");
  const auto st = svc.stats(product);
  EXPECT_EQ(st.pending, units);
  EXPECT_EQ(st.available + st.pending, 100);
}

}  // namespace
}  // namespace fs::test
