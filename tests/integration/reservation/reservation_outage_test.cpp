// Faults on the hot path: an instance died between the Redis decrement and its insert (the
// crash sweep returns the unit), and PostgreSQL dies while requests arrive. Acknowledged
// reservations stay, refused ones get 503 (never a hang), and once PostgreSQL is back every unit
// whose insert failed is back in Redis exactly once: stock is conserved.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "inventory/stock_keys.hpp"
#include "inventory/stock_scripts.hpp"
#include "support/sale_fixture.hpp"
#include "support/scratch_dir.hpp"
#include "support/servers.hpp"

namespace fs::test {
namespace {

std::vector<Call> crowd(const std::string& product, const std::string& prefix, int n) {
  std::vector<Call> calls;
  for (int i = 0; i < n; ++i)
    calls.push_back({"POST",
                     "/v1/reservations",
                     user_token(prefix + std::to_string(i)),
                     reservation_body(product),
                     {}});
  return calls;
}

TEST(ReservationOutage, PostgresKilledMidSaleConservesStock) {
  ScratchDir dir("pg-outage");
  stack::PostgresOptions po;
  po.dir = dir.path() / "pg";
  auto pg = stack::PostgresServer::start(po);
  ASSERT_TRUE(pg.ok()) << pg.error().message;
  ServiceUnderTest svc(shared_redis().port(), (*pg)->conninfo(), [](app::ServiceConfig& c) {
    c.pg_timeout = std::chrono::milliseconds{500};
  });
  const std::string product = unique_name("outage");
  svc.put_product(product, 200, 10, 1);

  auto before = race(svc.port(), crowd(product, "before-", 50), 50);
  int created = 0;
  for (const auto& r : before) created += r.status == 201;
  ASSERT_EQ(created, 50);

  (*pg)->kill();
  auto start = std::chrono::steady_clock::now();
  auto during = race(svc.port(), crowd(product, "during-", 100), 100);
  auto elapsed = std::chrono::steady_clock::now() - start;
  int unavailable = 0;
  std::map<int, int> histogram;
  for (const auto& r : during) ++histogram[r.status];
  for (auto [status, n] : histogram) std::cerr << "during outage: " << status << " x" << n << "\n";
  std::cerr << "answered in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms\n";
  for (const auto& r : during) {
    ASSERT_TRUE(r.status == 201 || r.status == 503) << r.status << " " << r.body;
    if (r.status == 503) {
      ++unavailable;
      EXPECT_EQ(r.header("retry-after"), "1");
    }
    created += r.status == 201;
  }
  EXPECT_GT(unavailable, 90);
  EXPECT_LT(elapsed, std::chrono::seconds{10});  // answered, not hung

  ASSERT_TRUE((*pg)->restart().ok());
  // Once PostgreSQL answers, every unit whose insert failed goes back exactly once.
  ServiceUnderTest::Stats s;
  bool conserved = wait_until(
      [&] {
        s = svc.stats(product);
        return s.stock_total == 200 && s.available + s.pending == 200 && s.pending == created;
      },
      std::chrono::seconds{40}, std::chrono::milliseconds{250});
  EXPECT_TRUE(conserved) << "available=" << s.available << " pending=" << s.pending
                         << " created=" << created;
  // Users refused with 503 may try again and succeed.
  auto retry = race(svc.port(), crowd(product, "during-", 10), 10);
  for (std::size_t i = 0; i < retry.size(); ++i)
    EXPECT_EQ(retry[i].status, during[i].status == 503 ? 201 : 409) << retry[i].body;
  s = svc.stats(product);
  EXPECT_EQ(s.available + s.pending, 200);
}

// An instance died between the Redis decrement and the PostgreSQL insert: the hold stays 'h'
// and no row exists. The service's crash sweep (every 500 ms here, for holds older than 3 s)
// finds it through the sale's unsettled index, writes the FAILED tombstone and returns the unit,
// exactly once; a hold taken a moment ago is left alone; and a committed hold leaves the index.
TEST(ReservationOutage, CrashSweepReturnsTheUnitOfAnOrphanedHold) {
  auto& svc = shared_service();
  const std::string product = unique_name("orphan");
  svc.put_product(product, 3, 1, 1);
  const inventory::StockKeys keys(product, 1);
  const auto port = shared_redis().port();
  auto cli = [&](const std::vector<std::string>& args) -> std::string {
    auto r = redis_cli(port, args);
    return r.ok() ? *r : "error: " + r.error().message;
  };
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  // The reserve script as the dead instance ran it, a minute ago; and one as a live instance
  // runs it now (its insert still in flight, as far as the sweep can tell).
  const std::string orphan = "00000000-0000-4000-8000-00000000c0de";
  const std::string fresh = "00000000-0000-4000-8000-00000000f4e5";
  const auto& reserve = inventory::reserve_script();
  ASSERT_EQ(cli({"EVAL", reserve.source, "1", keys.users(), "1:1:0:0:1", orphan, "ghost",
                 std::to_string(now_ms - 60'000)}),
            "1\n0");
  ASSERT_EQ(cli({"EVAL", reserve.source, "1", keys.users(), "1:1:0:0:1", fresh, "alive",
                 std::to_string(now_ms + 60'000)}),
            "1\n0");
  EXPECT_EQ(cli({"ZCARD", keys.unsettled()}), "2");
  // A 201 through the service: its hold is marked committed and leaves the index.
  auto created = send_one(
      svc.port(), {"POST", "/v1/reservations", user_token("buyer"), reservation_body(product), {}});
  ASSERT_EQ(created.status, 201) << created.body;

  ServiceUnderTest::Stats s;
  const bool returned = wait_until(
      [&] {
        s = svc.stats(product);
        return s.available == 1 && s.failed == 1;
      },
      std::chrono::seconds{20}, std::chrono::milliseconds{100});
  EXPECT_TRUE(returned) << "available=" << s.available << " failed=" << s.failed;
  EXPECT_EQ(s.pending, 1);
  EXPECT_EQ(svc.sql("SELECT status FROM reservations WHERE reservation_id = '" + orphan + "'"),
            "FAILED");
  EXPECT_EQ(cli({"HEXISTS", keys.holds(), orphan}), "0");
  // Left: the fresh hold, still unsettled (it is not old enough to judge).
  EXPECT_EQ(cli({"ZRANGE", keys.unsettled(), "0", "-1"}), fresh);
  // Later sweeps do not return the unit a second time.
  std::this_thread::sleep_for(std::chrono::milliseconds{1200});
  EXPECT_EQ(svc.stats(product).available, 1);
}

}  // namespace
}  // namespace fs::test
