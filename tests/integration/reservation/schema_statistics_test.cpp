// Migration 006: every column of reservations has statistics target 10, so the autovacuum
// ANALYZE after a burst samples 3,000 rows instead of 30,000 — and the planner still takes the
// partial index for the expiry sweep.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "app/migrations.hpp"
#include "postgres/database_impl.hpp"
#include "support/run_coroutine.hpp"
#include "support/servers.hpp"

namespace fs::test {
namespace {

namespace asio = boost::asio;

TEST(SchemaStatistics, ReservationsAnalyzeASmallSampleAndTheSweepKeepsItsIndex) {
  auto& pg = test::shared_postgres();
  const std::string conninfo = test::fresh_database(pg);
  asio::io_context io;
  auto db = pg::make_database(io.get_executor(), test::database_config(conninfo, 1));
  ASSERT_TRUE(test::run_coroutine(io, app::apply_migrations(*db)).ok());
  auto targets = test::run_coroutine(
      io, db->query("SELECT count(*), count(*) FILTER (WHERE attstattarget = 10) "
                    "FROM pg_attribute WHERE attrelid = 'reservations'::regclass "
                    "AND attnum > 0 AND NOT attisdropped"));
  ASSERT_TRUE(targets.ok()) << targets.error().message;
  EXPECT_GE(std::stoi(std::string(targets->get(0, 0))), 15);  // the table's columns
  EXPECT_EQ(targets->get(0, 0), targets->get(0, 1));          // all of them at 10

  // 20,000 PENDING rows, analyzed: the sample holds 3,000 of them, and the expiry sweep's
  // query still goes to the partial index (not a scan and sort of every PENDING row).
  ASSERT_TRUE(test::run_coroutine(
                  io, db->query("INSERT INTO products (product_id, name, price_cents, currency, "
                                "stock_total) VALUES ('stats', 'x', 1, 'usd', 0)"))
                  .ok());
  ASSERT_TRUE(test::run_coroutine(
                  io, db->query("INSERT INTO reservations (reservation_id, product_id, "
                                "generation, user_id, quantity, status, amount_cents, currency, "
                                "shard, expires_at, created_at) SELECT gen_random_uuid(), "
                                "'stats', 1, 'u' || g, 1, 'PENDING', 1, 'usd', g % 10, now() + "
                                "interval '10 minutes', now() FROM generate_series(1, 20000) g"))
                  .ok());
  ASSERT_TRUE(test::run_coroutine(io, db->execute_script("ANALYZE reservations")).ok());
  auto plan = test::run_coroutine(
      io, db->query("EXPLAIN SELECT reservation_id FROM reservations WHERE status = 'PENDING' "
                    "AND expires_at <= now() ORDER BY expires_at LIMIT 1000 "
                    "FOR UPDATE SKIP LOCKED"));
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  std::string text;
  for (std::size_t i = 0; i < plan->size(); ++i) text += std::string(plan->get(i, 0)) + "\n";
  EXPECT_NE(text.find("reservations_pending_expiry"), std::string::npos) << text;
  EXPECT_EQ(text.find("Seq Scan"), std::string::npos) << text;
  db->close();
}

}  // namespace
}  // namespace fs::test
