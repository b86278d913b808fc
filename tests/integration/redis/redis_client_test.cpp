// The client against a real redis-server: reply types, pipelining under heavy concurrency,
// scripts. Fault handling lives in redis_client_faults_test.cpp.
#include <gtest/gtest.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <iostream>
#include <span>
#include <string_view>

#include "redis/redis_client_impl.hpp"
#include "redis_test_env.hpp"
#include "support/run_coroutine.hpp"
#include "support/servers.hpp"

namespace fs::redis {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using test::run_coroutine;
using test::run_until;

class RedisClientTest : public ::testing::Test {
 protected:
  asio::io_context io_{1};
  std::unique_ptr<Client> client_ =
      make_client(io_.get_executor(), test::client_config(test::shared_redis().port()));
  std::string prefix_ = test::unique_name("redis");
};

TEST_F(RedisClientTest, ConnectsLazilyOnFirstCommand) {
  EXPECT_FALSE(client_->connected());
  auto pong = run_coroutine(io_, client_->command("PING"));
  ASSERT_TRUE(pong.ok()) << pong.error().message;
  EXPECT_EQ(pong->type, Reply::Type::status);
  EXPECT_EQ(pong->str, "PONG");
  EXPECT_TRUE(client_->connected());
}

TEST_F(RedisClientTest, ConvertsEveryReplyType) {
  run_coroutine(io_, [&]() -> awaitable<void> {
    const std::string key = prefix_ + ":k";
    const std::string binary("a\r\n\0b", 5);
    auto set = co_await client_->command("SET", key, binary);
    EXPECT_TRUE(set.ok());
    EXPECT_EQ(set->type, Reply::Type::status);
    EXPECT_EQ(set->str, "OK");

    auto get = co_await client_->command("GET", key);
    EXPECT_TRUE(get.ok());
    EXPECT_EQ(get->type, Reply::Type::string);
    EXPECT_EQ(get->str, binary);

    auto missing = co_await client_->command("GET", prefix_ + ":missing");
    EXPECT_TRUE(missing.ok());
    EXPECT_TRUE(missing->is_nil());

    auto incr = co_await client_->command("INCRBY", prefix_ + ":n", "41");
    EXPECT_TRUE(incr.ok());
    EXPECT_EQ(incr->type, Reply::Type::integer);
    EXPECT_EQ(incr->integer, 41);

    auto pushed = co_await client_->command("RPUSH", prefix_ + ":l", "x", "y", "z");
    EXPECT_EQ(pushed->integer, 3);
    auto range = co_await client_->command("LRANGE", prefix_ + ":l", "0", "-1");
    EXPECT_TRUE(range.ok());
    EXPECT_EQ(range->type, Reply::Type::array);
    EXPECT_EQ(range->elements.size(), 3u);
    if (range->elements.size() == 3) {
      EXPECT_EQ(range->elements[0].str, "x");
      EXPECT_EQ(range->elements[2].str, "z");
    }

    auto empty = co_await client_->command("LRANGE", prefix_ + ":none", "0", "-1");
    EXPECT_TRUE(empty.ok());
    EXPECT_EQ(empty->type, Reply::Type::array);
    EXPECT_TRUE(empty->elements.empty());

    auto wrong_type = co_await client_->command("INCR", key);
    EXPECT_FALSE(wrong_type.ok());
    if (!wrong_type.ok()) {
      EXPECT_EQ(wrong_type.code(), Errc::backend_error);
      EXPECT_NE(wrong_type.error().message.find("ERR value is not an integer"), std::string::npos)
          << wrong_type.error().message;
    }

    auto unknown = co_await client_->command("NOSUCHCOMMAND");
    EXPECT_FALSE(unknown.ok());
    if (!unknown.ok()) {
      EXPECT_EQ(unknown.code(), Errc::backend_error);
    }

    // An error does not disturb the replies that follow it.
    auto after = co_await client_->command("GET", key);
    EXPECT_TRUE(after.ok());
    EXPECT_EQ(after->str, binary);
  }());
}

TEST_F(RedisClientTest, TenThousandConcurrentCommandsGetTheirOwnRepliesInOrder) {
  ASSERT_TRUE(run_coroutine(io_, client_->command("PING")).ok());
  const std::string key = prefix_ + ":counter";
  constexpr int kCoroutines = 10000;
  std::vector<long long> got(kCoroutines, 0);
  int finished = 0;
  int failures = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kCoroutines; ++i) {
    asio::co_spawn(
        io_,
        [&, i]() -> awaitable<void> {
          auto r = co_await client_->command("INCR", key);
          if (r.ok() && r->type == Reply::Type::integer) {
            got[i] = r->integer;
          } else {
            ++failures;
          }
          ++finished;
        },
        asio::detached);
  }
  ASSERT_TRUE(run_until(io_, [&] { return finished == kCoroutines; }))
      << finished << " finished, " << failures << " failed";
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(failures, 0);
  // Coroutines start in spawn order and the pipeline is FIFO, so coroutine i sees i + 1.
  for (int i = 0; i < kCoroutines; ++i) ASSERT_EQ(got[i], i + 1) << "coroutine " << i;
  std::cout << "[ throughput ] " << kCoroutines << " concurrent INCRs in " << seconds * 1000
            << " ms = " << kCoroutines / seconds << " commands/s\n";
}

TEST_F(RedisClientTest, SustainedThroughputWithManyCoroutines) {
  ASSERT_TRUE(run_coroutine(io_, client_->command("PING")).ok());
  const std::string key = prefix_ + ":counter";
  constexpr int kCoroutines = 10000;
  constexpr int kPerCoroutine = 20;
  std::vector<char> seen(kCoroutines * kPerCoroutine + 1, 0);
  int finished = 0;
  int failures = 0;
  int out_of_order = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kCoroutines; ++i) {
    asio::co_spawn(
        io_,
        [&]() -> awaitable<void> {
          long long last = 0;
          for (int j = 0; j < kPerCoroutine; ++j) {
            auto r = co_await client_->command("INCR", key);
            if (!r.ok() || r->integer < 1 || r->integer >= static_cast<long long>(seen.size())) {
              ++failures;
              continue;
            }
            if (r->integer <= last) ++out_of_order;
            last = r->integer;
            seen[static_cast<std::size_t>(r->integer)]++;
          }
          ++finished;
        },
        asio::detached);
  }
  ASSERT_TRUE(run_until(
      io_, [&] { return finished == kCoroutines; }, std::chrono::seconds{120}));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(out_of_order, 0);
  // Every value 1..N was handed out exactly once.
  for (std::size_t v = 1; v < seen.size(); ++v) ASSERT_EQ(seen[v], 1) << "value " << v;
  const int total = kCoroutines * kPerCoroutine;
  std::cout << "[ throughput ] " << total << " INCRs from " << kCoroutines << " coroutines in "
            << seconds * 1000 << " ms = " << total / seconds << " commands/s\n";
}

TEST_F(RedisClientTest, EvalLoadsTheScriptOnNoscript) {
  const Script script(
      "redis.call('SET', KEYS[1], ARGV[1]) "
      "return {redis.call('GET', KEYS[1]), tonumber(ARGV[2]) + 1}");
  run_coroutine(io_, [&]() -> awaitable<void> {
    auto flushed = co_await client_->command("SCRIPT", "FLUSH");
    EXPECT_TRUE(flushed.ok());
    auto exists = co_await client_->command("SCRIPT", "EXISTS", script.sha1);
    EXPECT_TRUE(exists.ok() && exists->elements.size() == 1 && exists->elements[0].integer == 0);

    for (int round = 0; round < 2; ++round) {  // first via NOSCRIPT + SCRIPT LOAD, then cached
      std::vector<std::string> keys{prefix_ + ":e"};
      std::vector<std::string> args{"v" + std::to_string(round), "41"};
      auto r = co_await client_->eval(script, std::move(keys), std::move(args));
      EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
      if (!r.ok()) co_return;
      EXPECT_EQ(r->type, Reply::Type::array);
      EXPECT_EQ(r->elements.at(0).str, "v" + std::to_string(round));
      EXPECT_EQ(r->elements.at(1).integer, 42);
    }
    exists = co_await client_->command("SCRIPT", "EXISTS", script.sha1);
    EXPECT_TRUE(exists.ok() && exists->elements.size() == 1 && exists->elements[0].integer == 1);
  }());
}

// The view form formats the command from the caller's views; the client keeps the bytes to send
// the EVALSHA again after loading the script. 300 callers in flight when the script cache is
// empty: every one gets NOSCRIPT, is resent after a SCRIPT LOAD, and gets its own answer.
TEST_F(RedisClientTest, ManyEvalsInFlightSurviveAFlushedScriptCache) {
  const Script script("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}");
  ASSERT_TRUE(run_coroutine(io_, client_->command("SCRIPT", "FLUSH")).ok());
  const std::string key = prefix_ + ":flushed";
  constexpr int kCallers = 300;
  int finished = 0;
  int wrong = 0;
  std::vector<char> seen(kCallers + 1, 0);
  for (int i = 0; i < kCallers; ++i) {
    asio::co_spawn(
        io_,
        [&, i]() -> awaitable<void> {
          const std::string arg = "caller-" + std::to_string(i);
          const std::array<std::string_view, 1> k{key};
          const std::array<std::string_view, 1> a{arg};
          auto r = co_await client_->eval(script, std::span<const std::string_view>(k),
                                          std::span<const std::string_view>(a));
          if (!r.ok() || r->elements.size() != 3 || r->elements[0].str != key ||
              r->elements[1].str != arg || r->elements[2].integer < 1 ||
              r->elements[2].integer > kCallers) {
            ++wrong;
          } else {
            seen[static_cast<std::size_t>(r->elements[2].integer)]++;
          }
          ++finished;
        },
        asio::detached);
  }
  ASSERT_TRUE(run_until(
      io_, [&] { return finished == kCallers; }, std::chrono::seconds{30}));
  EXPECT_EQ(wrong, 0);
  // The script ran exactly once per caller: no lost and no doubled EVALSHA.
  for (std::size_t v = 1; v < seen.size(); ++v) EXPECT_EQ(seen[v], 1) << "value " << v;
}

TEST_F(RedisClientTest, EvalReportsScriptErrors) {
  const Script script("return redis.error_reply('SOLD_OUT nothing left')");
  auto r = run_coroutine(
      io_, client_->eval(script, std::vector<std::string>{}, std::vector<std::string>{}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Errc::backend_error);
  EXPECT_EQ(r.error().message, "SOLD_OUT nothing left");
}

}  // namespace
}  // namespace fs::redis
