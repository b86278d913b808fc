// The gateway layers end to end: the service in-process on real Redis and PostgreSQL, hundreds
// of concurrent connections presenting client IPs through X-Forwarded-For (loopback trusted).
#include "crowd/gateway_layers.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <iostream>
#include <map>
#include <thread>

#include "common/clock.hpp"
#include "common/random.hpp"
#include "crowd/crowd.hpp"
#include "gateway/captcha.hpp"
#include "gateway_fixture.hpp"
#include "support/servers.hpp"

namespace fs::test {
namespace {

using std::chrono::milliseconds;

const std::string kHeadlessUa = "Mozilla/5.0 HeadlessChrome/120.0";
const std::string kBrowserUa = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0";

std::vector<http::Header> headless_headers() {
  return {
      {"User-Agent", kHeadlessUa},
      {"X-Client-Signals",
       signals_header(
           R"({"webgl":false,"canvas":false,"pointer_events":0,"ms_since_load":40,"webdriver":true})")}};
}

std::map<int, int> by_status(const std::vector<http::ClientResponse>& rs) {
  std::map<int, int> m;
  for (const auto& r : rs) ++m[r.status];
  return m;
}

std::string code_of(const http::ClientResponse& r) {
  auto v = boost::json::parse(r.body);
  return std::string(v.at("error").at("code").as_string());
}

TEST(GatewayLayers, OneIpBurstIsCutToItsBucketOtherIpsUnaffected) {
  GatewayService svc(gw_database(), unique_name("gw") + ":", [](app::ServiceConfig& c) {
    c.gateway.ip_limit = true;
    c.gateway.ip_bucket = {10, 10};
  });
  svc.put_product("burst", 1000, 1000);
  std::vector<GwCall> calls;
  for (int i = 0; i < 100; ++i)
    calls.push_back(reserve_call("burst", "burst-user-" + std::to_string(i), "203.0.113.7"));
  const auto started = std::chrono::steady_clock::now();
  auto rs = gw_race(svc.port(), calls, 100);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  int passed = 0, limited = 0;
  for (const auto& r : rs) {
    if (r.status == 429) {
      ++limited;
      EXPECT_EQ(code_of(r), "rate_limited");
      EXPECT_EQ(r.header("retry-after"), "1");  // one token back within 0.1 s at 10/s
    } else {
      EXPECT_EQ(r.status, 201) << r.body;
      ++passed;
    }
  }
  // The burst of 10, plus what refilled at 10/s while the burst lasted.
  EXPECT_GE(passed, 10);
  EXPECT_LE(passed, 10 + static_cast<int>(seconds * 10) + 1) << seconds << " s";
  EXPECT_EQ(passed + limited, 100);
  EXPECT_GE(svc.metric(R"(flashsale_gateway_rejected_total{layer="ip_rate"})"), limited);

  // Other IPs have their own budget.
  std::vector<GwCall> others;
  for (int i = 0; i < 50; ++i)
    others.push_back(reserve_call("burst", "other-user-" + std::to_string(i),
                                  "198.51.100." + std::to_string(i + 1)));
  auto ro = gw_race(svc.port(), others, 50);
  EXPECT_EQ(by_status(ro)[201], 50);
}

TEST(GatewayLayers, UntrustedPeerCannotChooseItsIp) {
  GatewayService svc(gw_database(), unique_name("gw") + ":", [](app::ServiceConfig& c) {
    c.gateway.ip_limit = true;
    c.gateway.ip_bucket = {1, 5};
    c.gateway.trusted_proxies.clear();
  });
  svc.put_product("spoof", 1000, 1000);
  std::vector<GwCall> calls;
  for (int i = 0; i < 30; ++i)
    calls.push_back(reserve_call("spoof", "spoof-user-" + std::to_string(i),
                                 "192.0.2." + std::to_string(i + 1)));
  auto m = by_status(gw_race(svc.port(), calls, 30));
  EXPECT_LE(m[201], 6);  // one bucket (the loopback peer), whatever the header claims
  EXPECT_GE(m[429], 24);
}

// `threads` I/O threads, each with its own queue: the configured rate and length are the
// process' (one shared drain budget), whichever threads the connections landed on.
void queue_burst_check(std::size_t threads) {
  GatewayService svc(gw_database(), unique_name("gw") + ":", [threads](app::ServiceConfig& c) {
    c.threads = threads;
    c.gateway.queue = true;
    c.gateway.queue_config.drain_per_second = 100;
    c.gateway.queue_config.max_wait_ns = 1'000'000'000;
    c.gateway.queue_config.max_length = 600;
  });
  svc.put_product("queue", 5000, 1);
  std::vector<GwCall> calls;
  for (int i = 0; i < 1000; ++i)
    calls.push_back(
        reserve_call("queue", "q-user-" + std::to_string(i),
                     "10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1)));
  const auto started = std::chrono::steady_clock::now();
  auto rs = gw_race(svc.port(), calls, 1000);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto m = by_status(rs);
  for (const auto& r : rs) {
    if (r.status == 408) {
      EXPECT_EQ(code_of(r), "queue_timeout");
    }
    if (r.status == 503) {
      EXPECT_EQ(code_of(r), "overloaded");
      EXPECT_FALSE(r.header("retry-after").empty());
    }
  }
  EXPECT_EQ(m[201] + m[408] + m[503], 1000) << m[0] << " without answer";
  // ~100 served in the first second (plus the drain while 1000 connections arrived).
  EXPECT_GE(m[201], 90);
  EXPECT_LE(m[201], 100 + static_cast<int>(seconds * 100)) << seconds << " s";
  // When the 1000 requests really arrived as a burst (a release build takes well under a
  // second to send them; a sanitizer build may take many), the queue overflowed and timed out.
  // How many find the queue full depends on how fast the burst arrives: after 1 s, timeouts free
  // places for the late arrivals (a sanitizer build here saw 243, a release build ~400). The
  // exact figures are the unit test's (admission_queue_test.cpp, injected clock).
  if (seconds < 2.5) {
    EXPECT_GE(m[408], 350);
    EXPECT_GT(m[503], 0);  // 1000 arrivals, 600 places
  } else {
    std::cout << "the burst took " << seconds << " s to arrive: overflow checks skipped\n";
  }
  EXPECT_NEAR(svc.metric(R"(flashsale_gateway_rejected_total{layer="queue_timeout"})"), m[408],
              0.5);
  EXPECT_NEAR(svc.metric(R"(flashsale_gateway_rejected_total{layer="queue_full"})"), m[503], 0.5);
  EXPECT_TRUE(wait_until([&] { return svc.metric("flashsale_admission_queue_length") == 0; }));
}

TEST(GatewayLayers, AdmissionQueueDrainsAtItsRateTimesOutAndRefusesPastItsLength) {
  queue_burst_check(1);
}

TEST(GatewayLayers, TwoThreadsHonourTheGlobalDrainRateAndLength) { queue_burst_check(2); }

// A raw socket that sends one reservation and is then closed without reading the answer.
int open_and_send(std::uint16_t port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  std::size_t sent = 0;
  while (sent < request.size()) {
    auto n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  return fd;
}

TEST(GatewayLayers, ClientsThatDisconnectLeaveTheQueueAtOnce) {
  GatewayService svc(gw_database(), unique_name("gw") + ":", [](app::ServiceConfig& c) {
    c.gateway.queue = true;
    c.gateway.queue_config.drain_per_second = 2;  // two per second in all: they stay
    c.gateway.queue_config.max_wait_ns = 60'000'000'000;
  });
  svc.put_product("leave", 1000, 1);
  const std::string body = gw_reservation_body("leave");
  std::vector<int> fds;
  for (int i = 0; i < 200; ++i) {
    const std::string req =
        "POST /v1/reservations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
        gw_user_token("leave-" + std::to_string(i)) + "\r\nX-Forwarded-For: 10.9.0." +
        std::to_string(i % 250 + 1) +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n" + body;
    int fd = open_and_send(svc.port(), req);
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  // Nearly all of them wait (a couple were let through by the idle queue or drained).
  ASSERT_TRUE(wait_until([&] { return svc.metric("flashsale_admission_queue_length") >= 190; }))
      << svc.metric("flashsale_admission_queue_length");
  const auto closed_at = std::chrono::steady_clock::now();
  for (int fd : fds) ::close(fd);
  // Draining them would take 100 s; leaving must take well under the polling timeout.
  ASSERT_TRUE(wait_until([&] { return svc.metric("flashsale_admission_queue_length") == 0; },
                         std::chrono::seconds{10}))
      << svc.metric("flashsale_admission_queue_length");
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - closed_at).count();
  EXPECT_LT(took, 5.0);
  EXPECT_GE(svc.metric(R"(flashsale_gateway_rejected_total{layer="queue_abandoned"})"), 190);
}

TEST(GatewayLayers, ConcurrencyLimitRefusesBeyondInFlight) {
  GatewayService svc(gw_database(), unique_name("gw") + ":", [](app::ServiceConfig& c) {
    c.gateway.concurrency_limit = true;
    c.gateway.max_in_flight = 2;
  });
  svc.put_product("inflight", 5000, 1);
  std::vector<GwCall> calls;
  for (int i = 0; i < 400; ++i)
    calls.push_back(reserve_call("inflight", "c-user-" + std::to_string(i), "10.2.0.1"));
  auto m = by_status(gw_race(svc.port(), calls, 200));
  EXPECT_EQ(m[201] + m[503], 400);
  EXPECT_GE(m[201], 2);
  EXPECT_GE(m[503], 1);  // 200 connections racing for 2 slots
  EXPECT_TRUE(wait_until([&] { return svc.metric("flashsale_reservations_in_flight") == 0; }));
}

// Puts a challenge with a known answer where the gateway keeps its challenges.
std::string plant_challenge(const std::string& prefix, std::string& answer) {
  SeededRandom random(42);
  SystemClock& clock = SystemClock::instance();
  gateway::CaptchaGenerator gen(random, clock);
  auto c = gen.generate();
  answer = c.answer;
  auto set = redis_cli(shared_redis().port(),
                       {"SET", prefix + "captcha:c:" + c.id, c.stored.serialize(), "EX", "120"});
  EXPECT_TRUE(set.ok());
  return c.id;
}

TEST(GatewayLayers, BotsGetACaptchaAWrongAnswerBansEverywhereARightOnePasses) {
  const std::string prefix = unique_name("gw") + ":";
  const std::string db = gw_database();
  auto tune = [](app::ServiceConfig& c) {
    c.gateway.bot_detection = true;
    c.gateway.distributed = true;
    c.gateway.ip_limit = true;
  };
  GatewayService a(db, prefix, tune);
  GatewayService b(db, prefix, tune);
  a.put_product("bots", 100, 1);

  // A human (browser signals) goes through; a headless client is challenged.
  auto human = gw_send(
      a.port(), reserve_call("bots", "human-1", "198.51.100.10",
                             {{"User-Agent", kBrowserUa},
                              {"X-Client-Signals", signals_header(R"({"webgl":true,"canvas":true,)"
                                                                  R"("pointer_events":25,)"
                                                                  R"("ms_since_load":4200})")}}));
  EXPECT_EQ(human.status, 201) << human.body;
  auto bot = gw_send(a.port(), reserve_call("bots", "bot-1", "203.0.113.50", headless_headers()));
  ASSERT_EQ(bot.status, 403) << bot.body;
  auto v = boost::json::parse(bot.body);
  EXPECT_EQ(v.at("error").at("code").as_string(), "captcha_required");
  const std::string id(v.at("captcha").at("id").as_string());
  EXPECT_EQ(v.at("captcha").at("image_url").as_string(), "/v1/captcha/" + id);

  // The image is served by any instance.
  auto image = gw_send(b.port(), GwCall("GET", "/v1/captcha/" + id, "", ""));
  EXPECT_EQ(image.status, 200);
  EXPECT_EQ(image.header("content-type"), "image/svg+xml");
  EXPECT_NE(image.body.find("<svg"), std::string::npos);

  // A wrong answer on A bans the IP and the user on B too.
  auto wrong =
      gw_send(a.port(), GwCall("POST", "/v1/captcha/" + id, gw_user_token("bot-1"),
                               R"({"answer":"NOPE0"})", {{"X-Forwarded-For", "203.0.113.50"}}));
  ASSERT_EQ(wrong.status, 403) << wrong.body;
  EXPECT_EQ(code_of(wrong), "blocked");
  EXPECT_EQ(wrong.header("retry-after"), "3600");
  auto same_ip = gw_send(b.port(), reserve_call("bots", "someone-else", "203.0.113.50"));
  EXPECT_EQ(same_ip.status, 403);
  EXPECT_EQ(code_of(same_ip), "blocked");
  const auto retry = std::stoll(std::string(same_ip.header("retry-after")));
  EXPECT_GT(retry, 3500);
  EXPECT_LE(retry, 3600);
  auto same_user = gw_send(b.port(), reserve_call("bots", "bot-1", "198.51.100.99"));
  EXPECT_EQ(same_user.status, 403);
  EXPECT_EQ(code_of(same_user), "blocked");
  // The challenge was single use: answering it again does not give a token.
  auto again =
      gw_send(b.port(), GwCall("POST", "/v1/captcha/" + id, gw_user_token("bot-2"),
                               R"({"answer":"NOPE0"})", {{"X-Forwarded-For", "203.0.113.51"}}));
  EXPECT_EQ(again.status, 403);

  // The admin sees the bans and lifts the user's.
  auto bans = gw_send(b.port(), GwCall("GET", "/v1/admin/gateway/bans", gw_admin_token(), ""));
  ASSERT_EQ(bans.status, 200) << bans.body;
  EXPECT_NE(bans.body.find("\"value\":\"bot-1\""), std::string::npos) << bans.body;
  EXPECT_NE(bans.body.find("\"value\":\"203.0.113.50\""), std::string::npos) << bans.body;
  auto lift = gw_send(a.port(),
                      GwCall("DELETE", "/v1/admin/gateway/bans/user/bot-2", gw_admin_token(), ""));
  EXPECT_EQ(lift.status, 200) << lift.body;
  auto not_admin =
      gw_send(a.port(), GwCall("GET", "/v1/admin/gateway/bans", gw_user_token("x"), ""));
  EXPECT_EQ(not_admin.status, 401);

  // The right answer gives a token bound to user and IP; the retry reaches the stock.
  std::string answer;
  const std::string planted = plant_challenge(prefix, answer);
  auto listed =
      gw_send(a.port(), GwCall("GET", "/v1/admin/gateway/challenges", gw_admin_token(), ""));
  EXPECT_NE(listed.body.find(planted), std::string::npos) << listed.body;
  auto right = gw_send(
      b.port(), GwCall("POST", "/v1/captcha/" + planted, gw_user_token("bot-3"),
                       R"({"answer":")" + answer + "\"}", {{"X-Forwarded-For", "203.0.113.60"}}));
  ASSERT_EQ(right.status, 200) << right.body;
  const std::string token(boost::json::parse(right.body).at("captcha_token").as_string());
  auto still_bot =
      gw_send(a.port(), reserve_call("bots", "bot-3", "203.0.113.60", headless_headers()));
  EXPECT_EQ(still_bot.status, 403);
  auto with_token_elsewhere = headless_headers();
  with_token_elsewhere.push_back({"X-Captcha-Token", token});
  auto other_ip =
      gw_send(a.port(), reserve_call("bots", "bot-3", "203.0.113.61", with_token_elsewhere));
  EXPECT_EQ(other_ip.status, 403);  // bound to the IP it was issued for
  EXPECT_EQ(code_of(other_ip), "captcha_required");
  auto with_token = headless_headers();
  with_token.push_back({"X-Captcha-Token", token});
  auto through = gw_send(a.port(), reserve_call("bots", "bot-3", "203.0.113.60", with_token));
  EXPECT_EQ(through.status, 201) << through.body;
}

TEST(GatewayLayers, TwoInstancesWithDistributedLimitsShareOneIpBudget) {
  const std::string prefix = unique_name("gw") + ":";
  const std::string db = gw_database();
  auto tune = [](app::ServiceConfig& c) {
    c.gateway.ip_limit = true;
    c.gateway.ip_bucket = {1, 10};  // 10 at once, then 1/s
    c.gateway.distributed = true;
  };
  GatewayService a(db, prefix, tune);
  GatewayService b(db, prefix, tune);
  a.put_product("shared", 1000, 1000);
  std::vector<GwCall> calls;
  for (int i = 0; i < 40; ++i)
    calls.push_back(reserve_call("shared", "s-user-" + std::to_string(i), "203.0.113.99"));
  std::vector<GwCall> half_a(calls.begin(), calls.begin() + 20);
  std::vector<GwCall> half_b(calls.begin() + 20, calls.end());
  std::vector<http::ClientResponse> ra, rb;
  std::thread ta([&] { ra = gw_race(a.port(), half_a, 20); });
  std::thread tb([&] { rb = gw_race(b.port(), half_b, 20); });
  ta.join();
  tb.join();
  const int passed = by_status(ra)[201] + by_status(rb)[201];
  const int limited = by_status(ra)[429] + by_status(rb)[429];
  EXPECT_GE(passed, 10);
  EXPECT_LE(passed, 12);  // one budget of 10 (+ refill at 1/s), not 2 x 10
  EXPECT_EQ(passed + limited, 40);
}

// Flow 8 in small: many IPs, humans and hammering bots, a small stock, every layer on.
TEST(GatewayLayers, FlowEightCrowdOfHumansAndBots) {
  GatewayService svc(gw_database(), unique_name("gw") + ":", [](app::ServiceConfig& c) {
    auto prefix = c.gateway.redis_prefix;
    c.gateway = gateway::GatewayConfig::production();
    c.gateway.trusted_proxies = {"127.0.0.0/8"};
    c.gateway.redis_prefix = prefix;
    c.gateway.queue_config.drain_per_second = 2000;
  });
  crowd::CrowdOptions o;
  o.port = svc.port();
  o.jwt_secret = kGatewaySecret;
  o.product_id = "flow8";
  o.users = 3000;
  o.bots = 60;
  o.requests_per_bot = 20;
  o.stock = 100;
  o.connections = 300;
  o.forwarded_ips = true;
  o.progress = false;
  o.settle_timeout = std::chrono::seconds{10};
  auto report = crowd::run_crowd(o);
  ASSERT_TRUE(report.ok()) << report.error().message;
  std::cout << crowd::format_report(*report, false);
  EXPECT_TRUE(report->invariants.ok) << report->invariants.message;
  const auto humans = crowd::count_layers(report->human_outcomes);
  const auto bots = crowd::count_layers(report->bot_outcomes);
  EXPECT_EQ(humans.total, 3000u);
  EXPECT_EQ(bots.total, 60u * 20);
  // No oversell, and the stock went (almost entirely) to humans.
  EXPECT_LE(humans.reserved + bots.reserved, 100u);
  EXPECT_EQ(humans.reserved + bots.reserved, 100u);  // 3000 humans want 100 units
  EXPECT_EQ(bots.reserved, 0u);
  // Bots are stopped at the edge or challenged; humans mostly reach the stock.
  EXPECT_GE(bots.bot_blocked + bots.rate_limited, bots.total * 95 / 100);
  EXPECT_GE(bots.bot_blocked, 60u);  // every bot was challenged at least once
  EXPECT_GE(humans.reserved + humans.sold_out, humans.total * 95 / 100);
  EXPECT_LE(humans.bot_blocked, humans.total / 100);
}

}  // namespace
}  // namespace fs::test
