// CaptchaStore and GcraLimiter against a real redis-server. Two clients stand for two
// instances of flashsale: whatever one writes, the other must see.
#include "gateway/captcha_store.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>

#include "common/clock.hpp"
#include "common/random.hpp"
#include "gateway/gcra_limiter.hpp"
#include "redis/redis_client_impl.hpp"
#include "support/run_coroutine.hpp"
#include "support/servers.hpp"

namespace fs::gateway {
namespace {

using fs::test::run_coroutine;
using std::chrono::seconds;

redis::ClientConfig config_for(std::uint16_t port) {
  redis::ClientConfig config;
  config.port = port;
  config.command_timeout = std::chrono::milliseconds{5000};
  return config;
}

class GatewayRedisTest : public ::testing::Test {
 protected:
  boost::asio::io_context io_{1};
  std::uint16_t port_ = fs::test::shared_redis().port();
  std::unique_ptr<redis::Client> client_a_ =
      redis::make_client(io_.get_executor(), config_for(port_));
  std::unique_ptr<redis::Client> client_b_ =
      redis::make_client(io_.get_executor(), config_for(port_));
  std::string prefix_ = fs::test::unique_name("gw") + ":";
  ManualClock clock_;
  SeededRandom random_{2024};
  CaptchaGenerator generator_{random_, clock_, {.ttl = seconds{120}}};
  CaptchaStore store_a_{*client_a_, clock_, prefix_};
  CaptchaStore store_b_{*client_b_, clock_, prefix_};
};

TEST_F(GatewayRedisTest, ChallengeIsSingleUseAcrossInstances) {
  auto challenge = generator_.generate();
  const std::string id = challenge.id;
  const std::string answer = challenge.answer;
  ASSERT_TRUE(run_coroutine(io_, store_a_.put(std::move(challenge))).ok());

  auto first = run_coroutine(io_, store_b_.verify(id, answer));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, CaptchaVerdict::correct);
  auto again = run_coroutine(io_, store_a_.verify(id, answer));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, CaptchaVerdict::unknown);
}

TEST_F(GatewayRedisTest, WrongAnswerBurnsTheChallenge) {
  auto challenge = generator_.generate();
  const std::string id = challenge.id;
  const std::string answer = challenge.answer;
  ASSERT_TRUE(run_coroutine(io_, store_a_.put(std::move(challenge))).ok());
  auto wrong = run_coroutine(io_, store_a_.verify(id, "nope!"));
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(*wrong, CaptchaVerdict::wrong);
  auto right_too_late = run_coroutine(io_, store_b_.verify(id, answer));
  ASSERT_TRUE(right_too_late.ok());
  EXPECT_EQ(*right_too_late, CaptchaVerdict::unknown);
}

TEST_F(GatewayRedisTest, ChallengeCarriesItsTtlIntoRedisAndExpires) {
  auto challenge = generator_.generate();
  const std::string id = challenge.id;
  const std::string answer = challenge.answer;
  ASSERT_TRUE(run_coroutine(io_, store_a_.put(std::move(challenge))).ok());
  auto ttl = fs::test::redis_cli(port_, {"TTL", prefix_ + "c:" + id});
  ASSERT_TRUE(ttl.ok());
  EXPECT_GE(std::stoi(*ttl), 119);
  EXPECT_LE(std::stoi(*ttl), 120);
  // Past the TTL by our clock, the stored expiry refuses it even if Redis still holds the key.
  clock_.advance(seconds{121});
  auto late = run_coroutine(io_, store_a_.verify(id, answer));
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(*late, CaptchaVerdict::expired);
  // An already expired challenge is not stored at all.
  auto stale = generator_.generate();
  clock_.advance(seconds{500});
  EXPECT_EQ(run_coroutine(io_, store_a_.put(std::move(stale))).code(), Errc::invalid_request);
}

TEST_F(GatewayRedisTest, CorruptChallengeIsAProtocolError) {
  ASSERT_TRUE(fs::test::redis_cli(port_, {"SET", prefix_ + "c:bad", "garbage"}).ok());
  auto taken = run_coroutine(io_, store_a_.take("bad"));
  EXPECT_EQ(taken.code(), Errc::protocol_error);
}

TEST_F(GatewayRedisTest, BansAreSharedBetweenInstances) {
  auto none = run_coroutine(io_, store_b_.ban_ttl("198.51.100.1", "alice"));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0);

  ASSERT_TRUE(run_coroutine(io_, store_a_.ban_ip("198.51.100.1", seconds{3600})).ok());
  auto by_ip = run_coroutine(io_, store_b_.ban_ttl("198.51.100.1", "bob"));
  ASSERT_TRUE(by_ip.ok());
  EXPECT_GT(*by_ip, 3590);
  EXPECT_LE(*by_ip, 3600);
  auto ip_only = run_coroutine(io_, store_b_.ban_ttl("198.51.100.1", ""));
  ASSERT_TRUE(ip_only.ok());
  EXPECT_GT(*ip_only, 3590);

  ASSERT_TRUE(run_coroutine(io_, store_b_.ban_user("alice", seconds{60})).ok());
  auto by_user = run_coroutine(io_, store_a_.ban_ttl("203.0.113.50", "alice"));
  ASSERT_TRUE(by_user.ok());
  EXPECT_GT(*by_user, 50);
  EXPECT_LE(*by_user, 60);
  // The longer ban wins.
  auto both = run_coroutine(io_, store_a_.ban_ttl("198.51.100.1", "alice"));
  ASSERT_TRUE(both.ok());
  EXPECT_GT(*both, 3590);

  auto clean = run_coroutine(io_, store_a_.ban_ttl("203.0.113.50", "carol"));
  ASSERT_TRUE(clean.ok());
  EXPECT_EQ(*clean, 0);
}

TEST_F(GatewayRedisTest, BanExpiresInRedis) {
  ASSERT_TRUE(run_coroutine(io_, store_a_.ban_user("shortlived", seconds{1})).ok());
  auto banned = run_coroutine(io_, store_b_.ban_ttl("0.0.0.0", "shortlived"));
  ASSERT_TRUE(banned.ok());
  EXPECT_EQ(*banned, 1);
  EXPECT_TRUE(fs::test::wait_until(
      [&] {
        auto exists = fs::test::redis_cli(port_, {"EXISTS", prefix_ + "ban:user:shortlived"});
        return exists.ok() && *exists == "0";
      },
      std::chrono::seconds{5}));
  auto after = run_coroutine(io_, store_b_.ban_ttl("0.0.0.0", "shortlived"));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, 0);
}

TEST_F(GatewayRedisTest, GcraBudgetIsSharedByTwoInstances) {
  // 2 per second, burst 4: whichever instance asks, one IP gets 4 at once, then 1 per 500 ms.
  GcraLimiter a(*client_a_, clock_, {.rate_per_second = 2, .burst = 4}, prefix_ + "gcra:");
  GcraLimiter b(*client_b_, clock_, {.rate_per_second = 2, .burst = 4}, prefix_ + "gcra:");
  int allowed = 0;
  for (int i = 0; i < 10; ++i) {
    auto result = run_coroutine(io_, (i % 2 == 0 ? a : b).try_take("198.51.100.7"));
    ASSERT_TRUE(result.ok()) << result.error().message;
    if (result->allowed) ++allowed;
  }
  EXPECT_EQ(allowed, 4);
  auto refused = run_coroutine(io_, b.try_take("198.51.100.7"));
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->allowed);
  EXPECT_EQ(refused->retry_after_seconds, 1);

  // Another IP has its own budget.
  auto other = run_coroutine(io_, a.try_take("198.51.100.8"));
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->allowed);

  clock_.advance(std::chrono::milliseconds{499});
  EXPECT_FALSE(run_coroutine(io_, a.try_take("198.51.100.7"))->allowed);
  clock_.advance(std::chrono::milliseconds{1});
  EXPECT_TRUE(run_coroutine(io_, a.try_take("198.51.100.7"))->allowed);
  EXPECT_FALSE(run_coroutine(io_, b.try_take("198.51.100.7"))->allowed);
}

TEST_F(GatewayRedisTest, GcraRetryAfterCountsWholeSeconds) {
  GcraLimiter slow(*client_a_, clock_, {.rate_per_second = 0.25, .burst = 1}, prefix_ + "gcra:");
  EXPECT_TRUE(run_coroutine(io_, slow.try_take("k"))->allowed);
  auto refused = run_coroutine(io_, slow.try_take("k"));
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->allowed);
  EXPECT_EQ(refused->retry_after_seconds, 4);
  clock_.advance(std::chrono::milliseconds{2500});
  EXPECT_EQ(run_coroutine(io_, slow.try_take("k"))->retry_after_seconds, 2);  // 1.5 s -> 2
  // The key expires in Redis once the bucket would be full again.
  auto pttl = fs::test::redis_cli(port_, {"PTTL", prefix_ + "gcra:k"});
  ASSERT_TRUE(pttl.ok());
  EXPECT_GT(std::stoll(*pttl), 0);
  EXPECT_LE(std::stoll(*pttl), 4001);
}

}  // namespace
}  // namespace fs::gateway

namespace fs::gateway {
namespace {

// 200 takes in flight at once, pipelined on two connections: the script's atomicity is what
// keeps the count exact.
TEST_F(GatewayRedisTest, GcraConcurrentTakesFromTwoInstancesNeverExceedTheBurst) {
  GcraLimiter a(*client_a_, clock_, {.rate_per_second = 1, .burst = 25}, prefix_ + "race:");
  GcraLimiter b(*client_b_, clock_, {.rate_per_second = 1, .burst = 25}, prefix_ + "race:");
  int allowed = 0, refused = 0, failed = 0;
  for (int i = 0; i < 200; ++i) {
    GcraLimiter& limiter = i % 2 == 0 ? a : b;
    auto take = [&allowed, &refused, &failed, &limiter]() -> boost::asio::awaitable<void> {
      auto result = co_await limiter.try_take("203.0.113.77");
      if (!result) {
        ++failed;
      } else if (result->allowed) {
        ++allowed;
      } else {
        ++refused;
      }
    };
    boost::asio::co_spawn(io_, take, boost::asio::detached);
  }
  io_.restart();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{20};
  while (allowed + refused + failed < 200 && std::chrono::steady_clock::now() < deadline) {
    io_.run_one_for(std::chrono::milliseconds{10});
  }
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(allowed, 25);
  EXPECT_EQ(refused, 175);
}

}  // namespace
}  // namespace fs::gateway
