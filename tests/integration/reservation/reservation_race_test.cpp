// The invariants of api.md/invariants.md under real races: hundreds of concurrent connections
// against a real redis-server and PostgreSQL.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "inventory/stock_keys.hpp"
#include "inventory/stock_scripts.hpp"
#include "support/sale_fixture.hpp"
#include "support/servers.hpp"

namespace fs::test {
namespace {

std::map<int, int> status_histogram(const std::vector<http::ClientResponse>& rs) {
  std::map<int, int> h;
  for (const auto& r : rs) ++h[r.status];
  return h;
}

std::string code_of(const http::ClientResponse& r) {
  auto v = boost::json::parse(r.body);
  return std::string(v.as_object().at("error").as_object().at("code").as_string());
}

// 2,000 distinct users over 256 connections race for 100 units, 20 times over.
TEST(ReservationRace, ExactlyTheStockIsSoldNeverMore) {
  auto& svc = shared_service();
  for (int round = 0; round < 20; ++round) {
    const std::string product = unique_name("race");
    svc.put_product(product, 100, 10, 1);
    std::vector<Call> calls;
    for (int u = 0; u < 2000; ++u)
      calls.push_back({"POST",
                       "/v1/reservations",
                       user_token("u" + std::to_string(round) + "-" + std::to_string(u)),
                       reservation_body(product),
                       {}});
    auto rs = race(svc.port(), calls, 256);
    auto h = status_histogram(rs);
    ASSERT_EQ(h[201], 100) << "round " << round;
    ASSERT_EQ(h[410], 1900) << "round " << round;
    std::set<std::string> ids;
    for (const auto& r : rs) {
      if (r.status == 201) {
        auto o = boost::json::parse(r.body).as_object();
        EXPECT_EQ(o.at("status").as_string(), "PENDING");
        ids.insert(std::string(o.at("reservation_id").as_string()));
      } else {
        EXPECT_EQ(code_of(r), "sold_out");
      }
    }
    EXPECT_EQ(ids.size(), 100u);
    auto s = svc.stats(product);
    EXPECT_EQ(s.pending, 100);  // 100 rows committed in PostgreSQL
    EXPECT_EQ(s.available, 0);  // Redis stock is 0
    for (auto v : s.shards) EXPECT_EQ(v, 0);
    EXPECT_EQ(s.available + s.pending + s.paying + s.paid, s.stock_total);
    // The 201 does not wait for its hold to be marked committed in Redis, but the mark lands
    // right after: every hold of the sale reads 'c' within moments.
    const std::string generation =
        svc.sql("SELECT generation FROM products WHERE product_id = '" + product + "'");
    const std::string holds = inventory::StockKeys(product, std::stoll(generation)).holds();
    int committed = 0;
    for (int attempt = 0; attempt < 100 && committed != 100; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      auto values = redis_cli(shared_redis().port(), {"HVALS", holds});
      ASSERT_TRUE(values.ok());
      committed = 0;
      std::istringstream lines(*values);
      for (std::string line; std::getline(lines, line);) committed += line.rfind("c|", 0) == 0;
    }
    EXPECT_EQ(committed, 100) << "holds marked committed, round " << round;
  }
}

TEST(ReservationRace, OneUserTwoHundredConcurrentClicksGetsOneReservation) {
  auto& svc = shared_service();
  const std::string product = unique_name("oneuser");
  svc.put_product(product, 50, 10, 1);
  const std::string token = user_token("greedy-user");
  std::vector<Call> calls(200,
                          Call{"POST", "/v1/reservations", token, reservation_body(product), {}});
  auto rs = race(svc.port(), calls, 200);
  auto h = status_histogram(rs);
  EXPECT_EQ(h[201], 1);
  EXPECT_EQ(h[409], 199);
  for (const auto& r : rs) {
    if (r.status == 409) {
      EXPECT_EQ(code_of(r), "limit_exceeded");
    }
  }
  auto s = svc.stats(product);
  EXPECT_EQ(s.pending, 1);
  EXPECT_EQ(s.available, 49);
}

TEST(ReservationRace, PerUserLimitAboveOneHoldsUnderRace) {
  auto& svc = shared_service();
  const std::string product = unique_name("limit3");
  svc.put_product(product, 1000, 10, 3);
  std::vector<Call> calls;
  for (int u = 0; u < 20; ++u)
    for (int k = 0; k < 15; ++k)
      calls.push_back({"POST",
                       "/v1/reservations",
                       user_token("lim-" + std::to_string(u)),
                       reservation_body(product),
                       {}});
  auto rs = race(svc.port(), calls, 300);
  auto h = status_histogram(rs);
  EXPECT_EQ(h[201], 60);  // 20 users × limit 3
  EXPECT_EQ(h[409], 240);
  auto s = svc.stats(product);
  EXPECT_EQ(s.pending, 60);
  EXPECT_EQ(s.available, 940);
}

TEST(ReservationRace, SameIdempotencyKeyConcurrentlyCreatesOneReservation) {
  auto& svc = shared_service();
  const std::string product = unique_name("idem");
  svc.put_product(product, 10, 10, 1);
  const std::string token = user_token("idem-user");
  Call call{"POST",
            "/v1/reservations",
            token,
            reservation_body(product),
            {{"Idempotency-Key", "key-123"}}};
  auto rs = race(svc.port(), std::vector<Call>(100, call), 100);
  std::string original;
  int created = 0, replayed = 0, conflicts = 0;
  for (const auto& r : rs) {
    if (r.status == 201) {
      if (r.header("idempotent-replayed") == "true")
        ++replayed;
      else
        ++created;
      if (original.empty()) original = r.body;
      EXPECT_EQ(r.body, original);  // every replay equals the original
    } else {
      ASSERT_EQ(r.status, 409) << r.body;
      EXPECT_EQ(code_of(r), "idempotency_conflict");
      ++conflicts;
    }
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(created + replayed + conflicts, 100);
  auto s = svc.stats(product);
  EXPECT_EQ(s.pending, 1);

  // After the first finished: a replay returns the original status and body.
  auto again = send_one(svc.port(), call);
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(again.header("idempotent-replayed"), "true");
  EXPECT_EQ(again.body, original);
  // The same key with a different body is a conflict.
  Call other = call;
  other.body = reservation_body(product, 2);
  auto conflict = send_one(svc.port(), other);
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(code_of(conflict), "idempotency_conflict");
  EXPECT_EQ(svc.stats(product).pending, 1);
}

TEST(ReservationRace, RefusalsAreReplayedToo) {
  auto& svc = shared_service();
  const std::string product = unique_name("idem410");
  svc.put_product(product, 0, 1, 1);
  Call call{"POST",
            "/v1/reservations",
            user_token("late-user"),
            reservation_body(product),
            {{"Idempotency-Key", "late-1"}}};
  auto first = send_one(svc.port(), call);
  EXPECT_EQ(first.status, 410);
  auto second = send_one(svc.port(), call);
  EXPECT_EQ(second.status, 410);
  EXPECT_EQ(second.header("idempotent-replayed"), "true");
  EXPECT_EQ(second.body, first.body);
}

TEST(ReservationRace, OwnerSeesTheReservationOthersGetNotFound) {
  auto& svc = shared_service();
  const std::string product = unique_name("owner");
  svc.put_product(product, 5, 2, 1);
  auto created = send_one(
      svc.port(), {"POST", "/v1/reservations", user_token("alice"), reservation_body(product), {}});
  ASSERT_EQ(created.status, 201) << created.body;
  auto id =
      std::string(boost::json::parse(created.body).as_object().at("reservation_id").as_string());
  auto mine = send_one(svc.port(), {"GET", "/v1/reservations/" + id, user_token("alice"), "", {}});
  EXPECT_EQ(mine.status, 200);
  EXPECT_EQ(mine.body, created.body);
  auto theirs =
      send_one(svc.port(), {"GET", "/v1/reservations/" + id, user_token("mallory"), "", {}});
  EXPECT_EQ(theirs.status, 404);
  auto product_view = send_one(svc.port(), {"GET", "/v1/products/" + product, "", "", {}});
  EXPECT_EQ(product_view.status, 200);
  auto pv = boost::json::parse(product_view.body).as_object();
  EXPECT_EQ(pv.at("state").as_string(), "LIVE");
  EXPECT_EQ(pv.at("price_cents").as_int64(), 79900);
}

TEST(ReservationRace, SoldOutIsAnsweredFromMemoryAndStockComingBackIsSeen) {
  auto& svc = shared_service();
  const std::string product = unique_name("soldout");
  svc.put_product(product, 1, 1, 1);
  auto a = send_one(
      svc.port(), {"POST", "/v1/reservations", user_token("first"), reservation_body(product), {}});
  ASSERT_EQ(a.status, 201);
  auto id = std::string(boost::json::parse(a.body).as_object().at("reservation_id").as_string());
  for (int i = 0; i < 5; ++i) {
    auto b = send_one(svc.port(), {"POST",
                                   "/v1/reservations",
                                   user_token("next" + std::to_string(i)),
                                   reservation_body(product),
                                   {}});
    EXPECT_EQ(b.status, 410);
  }
  auto metrics = send_one(svc.port(), {"GET", "/metrics", "", "", {}});
  EXPECT_NE(metrics.body.find("flashsale_reservations_total{outcome=\"sold_out_cached\"}"),
            std::string::npos);
  // The unit comes back the way an expiry does it: the ledger first, then the hold's release.
  svc.sql("UPDATE reservations SET status = 'EXPIRED' WHERE reservation_id = '" + id +
          "'; "
          "UPDATE stock_shards SET allocated = allocated - 1 WHERE product_id = '" +
          product + "'");
  const auto& release = inventory::release_script();
  const std::string base = "fs:{" + product + ":1}";
  auto released =
      redis_cli(shared_redis().port(), {"EVAL", release.source, "3", base + ":users",
                                        base + ":holds", base + ":stock:0", id, "first", "1"});
  ASSERT_TRUE(released.ok());
  EXPECT_EQ(*released, "1");
  // This instance sees the stock again within its refresh interval (50 ms here).
  bool reserved = wait_until(
      [&] {
        auto c = send_one(
            svc.port(),
            {"POST", "/v1/reservations", user_token("returner"), reservation_body(product), {}});
        return c.status == 201;
      },
      std::chrono::seconds{5}, std::chrono::milliseconds{20});
  EXPECT_TRUE(reserved);
}

// Redis believes in more stock than the ledger (as after a failover that lost decrements): the
// database refuses the extra allocation, so nothing is oversold.
TEST(ReservationRace, LedgerRefusesStockThatRedisInvented) {
  auto& svc = shared_service();
  const std::string product = unique_name("ledger");
  svc.put_product(product, 10, 2, 1);
  const std::string base = "fs:{" + product + ":1}";
  ASSERT_TRUE(redis_cli(shared_redis().port(), {"INCRBY", base + ":stock:0", "20"}).ok());
  ASSERT_TRUE(redis_cli(shared_redis().port(), {"INCRBY", base + ":stock:1", "20"}).ok());
  std::vector<Call> calls;
  for (int u = 0; u < 200; ++u)
    calls.push_back({"POST",
                     "/v1/reservations",
                     user_token("ledger-" + std::to_string(u)),
                     reservation_body(product),
                     {}});
  auto rs = race(svc.port(), calls, 100);
  int created = 0, sold_out = 0;
  for (const auto& r : rs) {
    created += r.status == 201;
    sold_out += r.status == 410;
  }
  EXPECT_EQ(created, 10);
  EXPECT_EQ(sold_out, 190);
  EXPECT_EQ(svc.sql("SELECT count(*) FROM reservations WHERE product_id = '" + product +
                    "' AND status = 'PENDING'"),
            "10");
  EXPECT_EQ(svc.sql("SELECT sum(allocated) FROM stock_shards WHERE product_id = '" + product + "'"),
            "10");
  EXPECT_EQ(svc.sql("SELECT sum(capacity) FROM stock_shards WHERE product_id = '" + product + "'"),
            "10");
}

}  // namespace
}  // namespace fs::test
