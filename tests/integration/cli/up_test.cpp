// The README's first command, end to end: `flashsale up` starts Redis, PostgreSQL and the
// service under one folder, runs the demo sale, and leaves no server behind — also when it is
// killed with SIGKILL.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "stack/local_servers.hpp"
#include "support/scratch_dir.hpp"
#include "support/servers.hpp"

namespace fs::test {
namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::uint16_t> server_ports(const std::string& log) {
  std::vector<std::uint16_t> ports;
  std::regex re(R"((redis-server|postgres) on 127\.0\.0\.1:(\d+))");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator();
       ++it)
    ports.push_back(static_cast<std::uint16_t>(std::stoi((*it)[2])));
  return ports;
}

TEST(FlashsaleUp, RunsTheDemoSaleAndStopsEverything) {
  ScratchDir dir("up-demo");
  auto out =
      stack::run_command({FLASHSALE_BINARY, "up", "--data-dir", (dir.path() / "data").string(),
                          "--http-port", "0", "--demo-users", "3000", "--demo-stock", "100",
                          "--demo-connections", "128", "--exit-after-demo"},
                         std::chrono::seconds{240});
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_NE(out->find("flashsale is up: http://127.0.0.1:"), std::string::npos) << *out;
  EXPECT_NE(out->find("admin token"), std::string::npos);
  EXPECT_NE(out->find("invariants: OK"), std::string::npos) << *out;
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "data" / "postgres" / "PG_VERSION"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "data" / "redis"));
  // --pg-wal-ready-mb (1024 by default): 64 WAL segments of 16 MB made before the sale, still
  // there after the shutdown checkpoint recycled the ones the demo used.
  std::size_t segments = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(dir.path() / "data" / "postgres" / "pg_wal"))
    if (e.path().filename().string().size() == 24) ++segments;
  EXPECT_GE(segments, 60u) << *out;
  EXPECT_NE(out->find("WAL segments of 16 MB ready"), std::string::npos);
}

TEST(FlashsaleUp, KilledWithSigkillLeavesNoOrphanServers) {
  ScratchDir dir("up-kill");
  auto log = dir.path() / "up.log";
  auto proc =
      stack::ChildProcess::spawn({{FLASHSALE_BINARY, "up", "--data-dir",
                                   (dir.path() / "data").string(), "--http-port", "0", "--no-demo"},
                                  log});
  ASSERT_TRUE(proc.ok()) << proc.error().message;
  ASSERT_TRUE(wait_until([&] { return slurp(log).find("flashsale is up") != std::string::npos; },
                         std::chrono::seconds{90}, std::chrono::milliseconds{100}))
      << slurp(log);
  auto ports = server_ports(slurp(log));
  ASSERT_EQ(ports.size(), 2u) << slurp(log);
  for (auto p : ports) EXPECT_TRUE(stack::port_accepts_connections(p));
  (*proc)->kill();
  for (auto p : ports)
    EXPECT_TRUE(
        wait_until([&] { return !stack::port_accepts_connections(p); }, std::chrono::seconds{30}))
        << "server on port " << p << " outlived flashsale up";
}

}  // namespace
}  // namespace fs::test
