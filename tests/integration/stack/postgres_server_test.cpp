#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "stack/local_servers.hpp"
#include "support/scratch_dir.hpp"
#include "support/servers.hpp"

namespace fs::stack {
namespace {

using namespace std::chrono_literals;

// psql as the application role, through the same conninfo the service uses.
Result<std::string> query_as_app(const std::string& conninfo, const std::string& sql) {
  auto psql = find_program("psql");
  if (!psql) return std::move(psql).error();
  return run_command(
      {psql->string(), "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql}, 30s);
}

std::string uid_line_of(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Uid:", 0) == 0) return line;
  }
  return {};
}

TEST(PostgresServer, SharedServerServesTheAppRole) {
  auto& pg = test::shared_postgres();
  auto one = query_as_app(pg.conninfo(), "SELECT 1");
  ASSERT_TRUE(one.ok()) << one.error().message;
  EXPECT_EQ(*one, "1\n");
  auto who = query_as_app(pg.conninfo(), "SELECT current_user || '@' || current_database()");
  ASSERT_TRUE(who.ok()) << who.error().message;
  EXPECT_EQ(*who, "flashsale@flashsale\n");
  // Durability settings are part of the product, also under test.
  EXPECT_EQ(pg.psql("SHOW fsync").value(), "on\n");
  EXPECT_EQ(pg.psql("SHOW synchronous_commit").value(), "on\n");
  EXPECT_EQ(pg.psql("SHOW listen_addresses").value(), "127.0.0.1\n");
}

TEST(PostgresServer, RunsAsTheServerUserWhenRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  auto& pg = test::shared_postgres();
  auto uid = run_command({"id", "-u", pg.options().os_user});
  ASSERT_TRUE(uid.ok()) << uid.error().message;
  uid->pop_back();
  EXPECT_EQ(uid_line_of(pg.pid()).rfind("Uid:\t" + *uid + "\t", 0), 0u) << uid_line_of(pg.pid());
}

TEST(PostgresServer, FreshDatabaseIsEmptyAndOwnedByTheAppRole) {
  auto& pg = test::shared_postgres();
  const std::string conninfo = test::fresh_database(pg);
  auto created =
      query_as_app(conninfo, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)");
  ASSERT_TRUE(created.ok()) << created.error().message;
  auto count = query_as_app(conninfo, "SELECT count(*) FROM t");
  ASSERT_TRUE(count.ok()) << count.error().message;
  EXPECT_EQ(*count, "1\n");
  const std::string other = test::fresh_database(pg);
  EXPECT_NE(other, conninfo);
  EXPECT_FALSE(query_as_app(other, "SELECT count(*) FROM t").ok());
}

TEST(PostgresServer, KillNineThenRestartRecoversCommittedData) {
  test::ScratchDir dir;
  PostgresOptions options;
  options.dir = dir.path() / "pgdata";
  auto started = PostgresServer::start(std::move(options));
  ASSERT_TRUE(started.ok()) << started.error().message;
  auto& pg = **started;
  const auto port = pg.port();
  ASSERT_TRUE(query_as_app(pg.conninfo(),
                           "CREATE TABLE orders (id int PRIMARY KEY); "
                           "INSERT INTO orders SELECT generate_series(1, 1000)")
                  .ok());
  pg.kill();
  EXPECT_FALSE(pg.running());
  EXPECT_FALSE(port_accepts_connections(port));
  auto restarted = pg.restart();
  ASSERT_TRUE(restarted.ok()) << restarted.error().message;
  EXPECT_EQ(pg.port(), port);
  auto count = query_as_app(pg.conninfo(), "SELECT count(*) FROM orders");
  ASSERT_TRUE(count.ok()) << count.error().message;
  EXPECT_EQ(*count, "1000\n");

  // And a clean stop/start on the same directory keeps it too.
  pg.stop();
  EXPECT_FALSE(port_accepts_connections(port));
  ASSERT_TRUE(pg.restart().ok());
  EXPECT_EQ(query_as_app(pg.conninfo(), "SELECT count(*) FROM orders").value(), "1000\n");
}

TEST(PostgresServer, StartsOnAnExistingDataDirectory) {
  test::ScratchDir dir;
  PostgresOptions options;
  options.dir = dir.path() / "pgdata";
  options.database = "shop";
  std::uint16_t first_port = 0;
  {
    auto first = PostgresServer::start(options);
    ASSERT_TRUE(first.ok()) << first.error().message;
    first_port = (*first)->port();
    ASSERT_TRUE(query_as_app((*first)->conninfo(), "CREATE TABLE kept (x int)").ok());
  }  // destructor: fast shutdown
  EXPECT_FALSE(port_accepts_connections(first_port));
  auto second = PostgresServer::start(options);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(query_as_app((*second)->conninfo(), "SELECT count(*) FROM kept").value(), "0\n");
}

TEST(PostgresServer, ExtraSettingsApply) {
  test::ScratchDir dir;
  PostgresOptions options;
  options.dir = dir.path() / "pgdata";
  options.max_connections = 50;
  options.extra_settings = {"work_mem=8MB"};
  auto pg = PostgresServer::start(std::move(options));
  ASSERT_TRUE(pg.ok()) << pg.error().message;
  EXPECT_EQ((*pg)->psql("SHOW work_mem").value(), "8MB\n");
  EXPECT_EQ((*pg)->psql("SHOW max_connections").value(), "50\n");
}

// wal_ready_mb: the WAL a sale writes first goes into segments that exist already, instead of
// a commit creating (zero-filling and fsyncing) a 16 MB segment while the others queue behind it.
TEST(PostgresServer, WalSegmentsAreReadyBeforeTheFirstCommitAndKeptAcrossRestarts) {
  test::ScratchDir dir;
  PostgresOptions options;
  options.dir = dir.path() / "pgdata";
  options.wal_ready_mb = 96;  // 6 segments
  // Segments after the one being written: created ahead, not yet used.
  const std::string ahead =
      "SELECT count(*) FROM pg_ls_waldir() "
      "WHERE name ~ '^[0-9A-F]{24}$' AND name > pg_walfile_name(pg_current_wal_lsn())";
  std::size_t segments = 0;
  {
    auto pg = PostgresServer::start(options);
    ASSERT_TRUE(pg.ok()) << pg.error().message;
    EXPECT_EQ((*pg)->psql("SHOW min_wal_size").value(), "96MB\n");
    EXPECT_EQ((*pg)->psql("SHOW max_wal_size").value(), "1GB\n");
    EXPECT_GE(std::stoi((*pg)->psql(ahead).value()), 4);
    segments = (*pg)->wal_segments();
    EXPECT_GE(segments, 6u);
    // WAL written into them does not create more: ~2 segments' worth fits in what is there.
    ASSERT_TRUE(query_as_app((*pg)->conninfo(),
                             "CREATE TABLE filler AS SELECT g, repeat('x', 400) AS pad "
                             "FROM generate_series(1, 50000) g")
                    .ok());
    EXPECT_EQ((*pg)->wal_segments(), segments);
  }  // fast shutdown: its checkpoint recycles the used segments (min_wal_size keeps them)
  auto again = PostgresServer::start(options);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_GE((*again)->wal_segments(), 6u);
  EXPECT_LE((*again)->wal_segments(), segments + 1);  // not made a second time
  EXPECT_GE(std::stoi((*again)->psql(ahead).value()), 4);
  EXPECT_EQ(query_as_app((*again)->conninfo(), "SELECT count(*) FROM filler").value(), "50000\n");
}

TEST(PostgresServer, WithoutWalReadyTheClusterKeepsPostgresDefaults) {
  test::ScratchDir dir;
  PostgresOptions options;
  options.dir = dir.path() / "pgdata";
  auto pg = PostgresServer::start(std::move(options));
  ASSERT_TRUE(pg.ok()) << pg.error().message;
  EXPECT_EQ((*pg)->psql("SHOW min_wal_size").value(), "80MB\n");
  EXPECT_LE((*pg)->wal_segments(), 2u);
}

}  // namespace
}  // namespace fs::stack
