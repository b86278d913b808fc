// Faults on the hot path: PostgreSQL dies while requests arrive. Acknowledged reservations stay,
// refused ones get 503 (never a hang), and once PostgreSQL is back every unit whose insert
// failed is back in Redis exactly once: stock is conserved.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <iostream>
#include <map>
#include <set>

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

}  // namespace
}  // namespace fs::test
