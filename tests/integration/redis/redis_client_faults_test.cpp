// The client when things go wrong: a killed and restarted server, a slow server, a silent peer,
// close() and destruction with commands in flight, overload.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <optional>

#include "redis/redis_client_impl.hpp"
#include "redis_test_env.hpp"
#include "support/run_coroutine.hpp"
#include "stack/local_servers.hpp"
#include "support/scratch_dir.hpp"
#include "support/servers.hpp"

namespace fs::redis {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;
using test::poll_until;
using test::run_coroutine;
using test::run_until;

constexpr milliseconds kFailFast{200};

milliseconds since(SteadyClock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(SteadyClock::now() - t);
}

// A redis-server owned by one test (it gets killed) or by this binary (DEBUG enabled).
struct OwnRedis {
  test::ScratchDir dir{"flashsale-redis-client"};
  std::unique_ptr<stack::RedisServer> server;
  OwnRedis() {
    stack::RedisOptions options;
    options.dir = dir.path();
    options.append_only = false;
    options.extra_args = {"--enable-debug-command", "yes"};
    auto started = stack::RedisServer::start(std::move(options));
    if (!started) throw std::runtime_error("redis-server: " + started.error().message);
    server = std::move(*started);
  }
};

stack::RedisServer& debug_redis() {
  static OwnRedis own;
  return *own.server;
}

// Accepts connections and never answers: a black-holed Redis.
struct SilentPeer {
  explicit SilentPeer(asio::io_context& io)
      : acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io, accept_loop(), asio::detached);
  }
  ~SilentPeer() {
    boost::system::error_code ignored;
    acceptor.close(ignored);
  }
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }
  awaitable<void> accept_loop() {
    while (true) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      held.push_back(std::move(socket));
    }
  }
  asio::ip::tcp::acceptor acceptor;
  std::vector<asio::ip::tcp::socket> held;
};

// Spawns `n` commands whose results land in `results` (nullopt while pending).
void spawn_commands(asio::io_context& io, Client& client, int n,
                    std::vector<std::optional<Result<Reply>>>& results) {
  results.resize(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    asio::co_spawn(
        io,
        [&client, &results, i]() -> awaitable<void> {
          auto r = co_await client.command("GET", "k" + std::to_string(i));
          results[static_cast<std::size_t>(i)].emplace(std::move(r));
        },
        asio::detached);
  }
}

bool all_done(const std::vector<std::optional<Result<Reply>>>& results) {
  for (const auto& r : results) {
    if (!r) return false;
  }
  return true;
}

TEST(RedisClientFaults, NoServerFailsFastWithUnavailable) {
  asio::io_context io{1};
  auto client = make_client(io.get_executor(), test::client_config(stack::free_port()));
  for (int i = 0; i < 3; ++i) {  // the lazy first connect, then the reconnecting phase
    const auto start = SteadyClock::now();
    auto r = run_coroutine(io, client->command("PING"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.code(), Errc::unavailable) << r.error().message;
    EXPECT_LT(since(start), kFailFast);
  }
  EXPECT_FALSE(client->connected());
}

TEST(RedisClientFaults, KilledServerFailsFastAndClientReconnectsAfterRestart) {
  OwnRedis own;
  stack::RedisServer& server = *own.server;
  asio::io_context io{1};
  auto client = make_client(io.get_executor(), test::client_config(server.port()));
  run_coroutine(io, [&]() -> awaitable<void> {
    auto pong = co_await client->command("PING");
    EXPECT_TRUE(pong.ok());

    // A command the server holds on to, so it is pending when the server dies.
    std::optional<Result<Reply>> blocked;
    SteadyClock::time_point blocked_done;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          auto r = co_await client->command("BLPOP", "never-pushed", "30");
          blocked_done = SteadyClock::now();
          blocked.emplace(std::move(r));
        },
        asio::detached);
    bool held = co_await poll_until(
        [&] {
          auto info = test::redis_cli(server.port(), {"INFO", "clients"});
          return info.ok() && info->find("blocked_clients:1") != std::string::npos;
        },
        milliseconds{5000});
    EXPECT_TRUE(held);

    const auto killed_at = SteadyClock::now();
    server.kill();
    EXPECT_TRUE(co_await poll_until([&] { return blocked.has_value(); }, milliseconds{2000}));
    if (!blocked) co_return;
    EXPECT_EQ(blocked->code(), Errc::unavailable);
    EXPECT_LT(std::chrono::duration_cast<milliseconds>(blocked_done - killed_at), kFailFast);

    // New commands during the outage fail fast too.
    for (int i = 0; i < 5; ++i) {
      const auto start = SteadyClock::now();
      auto r = co_await client->command("PING");
      EXPECT_FALSE(r.ok());
      if (!r.ok()) {
        EXPECT_EQ(r.code(), Errc::unavailable) << r.error().message;
      }
      EXPECT_LT(since(start), kFailFast);
    }
    EXPECT_FALSE(client->connected());

    auto restarted = server.restart();
    EXPECT_TRUE(restarted.ok());
    // The client reconnects on its own; commands succeed again.
    bool recovered = false;
    const auto deadline = SteadyClock::now() + std::chrono::seconds{10};
    while (!recovered && SteadyClock::now() < deadline) {
      auto r = co_await client->command("PING");
      recovered = r.ok();
      if (!recovered) co_await test::sleep_for(milliseconds{10});
    }
    EXPECT_TRUE(recovered);
    EXPECT_TRUE(client->connected());
    auto set = co_await client->command("SET", "after-restart", "1");
    EXPECT_TRUE(set.ok());
  }());
}

TEST(RedisClientFaults, TimedOutCommandLeavesTheNextCommandItsOwnReply) {
  stack::RedisServer& server = debug_redis();
  asio::io_context io{1};
  auto config = test::client_config(server.port());
  config.command_timeout = milliseconds{200};
  config.stuck_reset_after = std::chrono::seconds{30};  // keep the connection: test FIFO alignment
  auto client = make_client(io.get_executor(), config);
  auto patient = make_client(io.get_executor(), test::client_config(server.port()));
  run_coroutine(io, [&]() -> awaitable<void> {
    EXPECT_TRUE((co_await client->command("PING")).ok());
    EXPECT_TRUE((co_await patient->command("PING")).ok());

    auto start = SteadyClock::now();
    auto slept = co_await client->command("DEBUG", "SLEEP", "2");
    EXPECT_FALSE(slept.ok());
    if (!slept.ok()) {
      EXPECT_EQ(slept.code(), Errc::timeout) << slept.error().message;
    }
    EXPECT_GE(since(start), milliseconds{190});
    EXPECT_LT(since(start), milliseconds{600});

    // Sent while Redis sleeps: times out as well, and its late reply must be absorbed too.
    auto early = co_await client->command("ECHO", "early");
    EXPECT_FALSE(early.ok());
    if (!early.ok()) {
      EXPECT_EQ(early.code(), Errc::timeout);
    }

    // Another connection tells us when Redis is awake again.
    auto awake = co_await patient->command("PING");
    EXPECT_TRUE(awake.ok());

    auto mine = co_await client->command("ECHO", "mine");
    EXPECT_TRUE(mine.ok()) << mine.error().message;
    if (mine.ok()) {
      EXPECT_EQ(mine->str, "mine");
    }
    auto next = co_await client->command("ECHO", "next");
    EXPECT_TRUE(next.ok()) << next.error().message;
    if (next.ok()) {
      EXPECT_EQ(next->str, "next");
    }
  }());
}

TEST(RedisClientFaults, SlowServerTimesOutThenConnectionIsResetAndRecovers) {
  stack::RedisServer& server = debug_redis();
  asio::io_context io{1};
  auto config = test::client_config(server.port());
  config.command_timeout = milliseconds{200};  // stuck reset after 400 ms
  auto client = make_client(io.get_executor(), config);
  run_coroutine(io, [&]() -> awaitable<void> {
    EXPECT_TRUE((co_await client->command("PING")).ok());
    auto slept = co_await client->command("DEBUG", "SLEEP", "1");
    EXPECT_FALSE(slept.ok());
    if (!slept.ok()) {
      EXPECT_EQ(slept.code(), Errc::timeout);
    }
    // Once Redis wakes up, the (new) connection serves commands with their own replies.
    bool recovered = false;
    const auto deadline = SteadyClock::now() + std::chrono::seconds{10};
    while (!recovered && SteadyClock::now() < deadline) {
      auto r = co_await client->command("ECHO", "back");
      recovered = r.ok() && r->str == "back";
      if (!recovered) co_await test::sleep_for(milliseconds{20});
    }
    EXPECT_TRUE(recovered);
  }());
}

TEST(RedisClientFaults, SilentPeerTimesOutAndConnectionIsReset) {
  asio::io_context io{1};
  SilentPeer peer(io);
  auto config = test::client_config(peer.port());
  config.command_timeout = milliseconds{100};
  auto client = make_client(io.get_executor(), config);
  run_coroutine(io, [&]() -> awaitable<void> {
    const auto start = SteadyClock::now();
    auto r = co_await client->command("PING");
    EXPECT_FALSE(r.ok());
    if (!r.ok()) {
      EXPECT_EQ(r.code(), Errc::timeout);
    }
    EXPECT_GE(since(start), milliseconds{95});
    EXPECT_LT(since(start), milliseconds{500});
    // The overdue reply makes the client give up on the connection and dial again.
    EXPECT_TRUE(co_await poll_until([&] { return peer.held.size() >= 2; }, milliseconds{3000}));
  }());
}

TEST(RedisClientFaults, CloseCancelsPendingCommands) {
  asio::io_context io{1};
  SilentPeer peer(io);
  auto client = make_client(io.get_executor(), test::client_config(peer.port()));
  std::vector<std::optional<Result<Reply>>> results;
  spawn_commands(io, *client, 100, results);
  ASSERT_TRUE(run_until(io, [&] { return client->connected() && !peer.held.empty(); }));
  EXPECT_FALSE(results.front().has_value());
  client->close();
  ASSERT_TRUE(run_until(
      io, [&] { return all_done(results); }, milliseconds{2000}));
  for (const auto& r : results) {
    ASSERT_FALSE(r->ok());
    EXPECT_EQ(r->code(), Errc::cancelled);
  }
  EXPECT_FALSE(client->connected());
  auto after = run_coroutine(io, client->command("PING"));
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.code(), Errc::cancelled);
}

TEST(RedisClientFaults, DestroyingTheClientWithSuspendedCallersIsSafe) {
  asio::io_context io{1};
  SilentPeer peer(io);
  auto client = make_client(io.get_executor(), test::client_config(peer.port()));
  std::vector<std::optional<Result<Reply>>> results;
  spawn_commands(io, *client, 50, results);
  ASSERT_TRUE(run_until(io, [&] { return client->connected(); }));
  client.reset();
  ASSERT_TRUE(run_until(
      io, [&] { return all_done(results); }, milliseconds{2000}));
  for (const auto& r : results) EXPECT_EQ(r->code(), Errc::cancelled);
  io.poll();  // the client's own coroutines wind down without touching freed memory
}

TEST(RedisClientFaults, BeyondMaxInFlightFailsFastWithOverloaded) {
  asio::io_context io{1};
  SilentPeer peer(io);
  auto config = test::client_config(peer.port());
  config.max_in_flight = 8;
  auto client = make_client(io.get_executor(), config);
  std::vector<std::optional<Result<Reply>>> results;
  spawn_commands(io, *client, 8, results);
  ASSERT_TRUE(run_until(io, [&] { return client->connected(); }));
  const auto start = SteadyClock::now();
  auto extra = run_coroutine(io, client->command("PING"));
  ASSERT_FALSE(extra.ok());
  EXPECT_EQ(extra.code(), Errc::overloaded);
  EXPECT_LT(since(start), kFailFast);
  EXPECT_FALSE(all_done(results));
  client->close();
  ASSERT_TRUE(run_until(
      io, [&] { return all_done(results); }, milliseconds{2000}));
}

}  // namespace
}  // namespace fs::redis
