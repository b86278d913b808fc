#include "gateway/bot_scorer.hpp"

#include <gtest/gtest.h>

#include <string>

#include "common/clock.hpp"

namespace fs::gateway {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::int64_t kSecondNs = 1'000'000'000;
constexpr const char* kChromeUa =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36";
constexpr const char* kHeadlessUa =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.0.0 Safari/537.36";

std::string base64(std::string_view in, bool url_safe, bool pad) {
  const char* alphabet = url_safe
                             ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                             : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(alphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(alphabet[(acc << (6 - bits)) & 63]);
  while (pad && out.size() % 4 != 0) out.push_back('=');
  return out;
}

std::string signals(std::string_view json) { return base64(json, false, true); }

TEST(SlidingWindowCounter, CountsTheLastWindow) {
  SlidingWindowCounter counter(60 * kSecondNs, 100);
  for (int i = 0; i < 30; ++i) EXPECT_DOUBLE_EQ(counter.add("ip", i * kSecondNs), i + 1);
  EXPECT_DOUBLE_EQ(counter.count("ip", 59 * kSecondNs), 30);
  // Half-way into the next window, half of the previous one still counts.
  EXPECT_DOUBLE_EQ(counter.count("ip", 90 * kSecondNs), 15);
  EXPECT_DOUBLE_EQ(counter.add("ip", 90 * kSecondNs), 16);
  // Two windows later nothing counts.
  EXPECT_DOUBLE_EQ(counter.count("ip", 181 * kSecondNs), 0);
  EXPECT_DOUBLE_EQ(counter.count("other", 0), 0);
}

TEST(SlidingWindowCounter, MemoryIsBounded) {
  SlidingWindowCounter counter(60 * kSecondNs, 50);
  for (int i = 0; i < 10'000; ++i) {
    (void)counter.add("k" + std::to_string(i), i * 1'000'000LL);
    ASSERT_LE(counter.size(), 50u);
  }
  // Stale keys go first: after two idle windows the sweep empties the table of old keys.
  (void)counter.add("late", 500 * kSecondNs);
  for (int i = 0; i < 49; ++i) (void)counter.add("late" + std::to_string(i), 500 * kSecondNs);
  EXPECT_DOUBLE_EQ(counter.count("late", 500 * kSecondNs), 1);
}

TEST(ClientSignals, AcceptsEveryBase64Flavour) {
  const std::string json =
      R"({"webgl":true,"canvas":false,"pointer_events":12,"ms_since_load":4200,"webdriver":false,"x":[1]})";
  for (bool url_safe : {false, true}) {
    for (bool pad : {false, true}) {
      auto parsed = parse_client_signals(base64(json, url_safe, pad));
      ASSERT_TRUE(parsed) << url_safe << pad;
      EXPECT_EQ(parsed->webgl, true);
      EXPECT_EQ(parsed->canvas, false);
      EXPECT_EQ(parsed->pointer_events, 12);
      EXPECT_EQ(parsed->ms_since_load, 4200);
      EXPECT_EQ(parsed->webdriver, false);
    }
  }
  // Fields are optional.
  auto empty = parse_client_signals(signals("{}"));
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->webgl.has_value());
  EXPECT_FALSE(empty->pointer_events.has_value());
}

TEST(ClientSignals, BytesNeedingBothAlphabetsDecode) {
  // 0xfb 0xff encodes to "+/8" / "-_8": the alphabets differ exactly there.
  EXPECT_EQ(decode_base64_any("+/8="), std::string("\xfb\xff"));
  EXPECT_EQ(decode_base64_any("-_8"), std::string("\xfb\xff"));
}

TEST(ClientSignals, MalformedIsRejected) {
  for (const std::string& bad :
       {std::string("not base64!"), std::string("a"), signals("not json"), signals("[1,2]"),
        signals(R"({"webgl":"yes"})"), signals(R"({"pointer_events":-1})"),
        signals(R"({"ms_since_load":1.5})"), signals(R"({"webgl":true)"), std::string(5000, 'A')}) {
    EXPECT_FALSE(parse_client_signals(bad).has_value()) << bad;
  }
}

TEST(UserAgents, HeadlessAndScriptMarkers) {
  EXPECT_TRUE(headless_user_agent(kHeadlessUa));
  EXPECT_TRUE(headless_user_agent("Mozilla/5.0 PhantomJS/2.1.1"));
  EXPECT_TRUE(headless_user_agent("Puppeteer"));
  EXPECT_TRUE(headless_user_agent("selenium/4.0 (python)"));
  EXPECT_FALSE(headless_user_agent(kChromeUa));
  EXPECT_FALSE(headless_user_agent(""));
  EXPECT_TRUE(script_user_agent("python-requests/2.31.0"));
  EXPECT_TRUE(script_user_agent("curl/8.4.0"));
  EXPECT_FALSE(script_user_agent(kChromeUa));
}

struct Case {
  const char* name;
  std::string user_agent;
  std::optional<std::string> signals_header;
  int requests_per_minute;  // from this IP and user, including the scored one
  std::int64_t account_age_seconds;
  double min_score;
  double max_score;
};

class BotScorerTable : public ::testing::TestWithParam<Case> {};

TEST_P(BotScorerTable, ScoresWithinExpectedRange) {
  const Case& c = GetParam();
  ManualClock clock;
  BotScorer scorer(clock);
  const auto now_unix = std::chrono::duration_cast<seconds>(clock.now().time_since_epoch()).count();
  BotRequest request;
  request.ip = "198.51.100.7";
  request.user_id = "user-1";
  request.user_agent = c.user_agent;
  if (c.signals_header) request.client_signals = *c.signals_header;
  request.account_created_unix = now_unix - c.account_age_seconds;

  BotScore score;
  const auto gap = std::chrono::nanoseconds(60 * kSecondNs / c.requests_per_minute);
  for (int i = 0; i < c.requests_per_minute; ++i) {
    score = scorer.score(request);
    if (i + 1 < c.requests_per_minute) clock.advance(gap);
  }
  EXPECT_GE(score.score, c.min_score) << c.name;
  EXPECT_LE(score.score, c.max_score) << c.name;
  EXPECT_EQ(score.is_bot, score.score > 80.0) << c.name;
}

constexpr std::int64_t kYear = 365 * 86'400;
const std::string kHumanSignals = signals(
    R"({"webgl":true,"canvas":true,"pointer_events":37,"ms_since_load":5400,"webdriver":false})");
const std::string kHumanTouchSignals =
    signals(R"({"webgl":true,"canvas":true,"pointer_events":3,"ms_since_load":900})");
const std::string kHeadlessSignals =
    signals(R"({"webgl":false,"canvas":false,"pointer_events":0,"ms_since_load":40})");
const std::string kWebdriverSignals = signals(
    R"({"webgl":true,"canvas":true,"pointer_events":0,"ms_since_load":120,"webdriver":true})");

INSTANTIATE_TEST_SUITE_P(
    Typical, BotScorerTable,
    ::testing::Values(
        Case{"desktop human", kChromeUa, kHumanSignals, 1, kYear, 0, 5},
        Case{"phone human", "Mozilla/5.0 (iPhone) Mobile Safari", kHumanTouchSignals, 3, kYear, 0,
             5},
        Case{"eager human refreshing", kChromeUa, kHumanSignals, 8, kYear, 0, 10},
        Case{"human with new account", kChromeUa, kHumanSignals, 2, 3600, 0, 30},
        Case{"api client, no header", "python-requests/2.31", std::nullopt, 2, kYear, 0, 30},
        Case{"api client, no header, new account", "curl/8.4", std::nullopt, 5, 3600, 0, 30},
        Case{"headless bot of flow 10", kHeadlessUa, kHeadlessSignals, 100, 3600, 99, 100},
        Case{"headless bot, slow", kHeadlessUa, kHeadlessSignals, 2, kYear, 95, 100},
        Case{"webdriver bot in a normal UA", kChromeUa, kWebdriverSignals, 3, kYear, 80.01, 100},
        Case{"script hammering without header", "python-requests/2.31", std::nullopt, 120, 3600, 90,
             100},
        Case{"forged header hammering", kChromeUa, std::string("e30"), 200, kYear, 80.01, 100}),
    [](const auto& param_info) {
      std::string name = param_info.param.name;
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

TEST(BotScorer, MissingHeaderAloneIsNotABot) {
  ManualClock clock;
  BotScorer scorer(clock);
  auto score = scorer.score({.ip = "203.0.113.1", .user_id = "u", .user_agent = ""});
  EXPECT_FALSE(score.is_bot);
  EXPECT_LT(score.score, 30);
  EXPECT_FALSE(score.signals_malformed);
}

TEST(BotScorer, MalformedSignalsAreCountedAndTreatedAsAbsentPlusSuspicion) {
  ManualClock clock;
  BotScorer scorer(clock);
  auto good = scorer.score({.ip = "a", .user_agent = kChromeUa, .client_signals = kHumanSignals});
  auto bad = scorer.score({.ip = "b", .user_agent = kChromeUa, .client_signals = "%%%"});
  auto bad_json =
      scorer.score({.ip = "c", .user_agent = kChromeUa, .client_signals = signals("[]")});
  EXPECT_FALSE(good.signals_malformed);
  EXPECT_TRUE(bad.signals_malformed);
  EXPECT_TRUE(bad_json.signals_malformed);
  EXPECT_EQ(scorer.malformed_signals_seen(), 2u);
  EXPECT_GT(bad.score, good.score);
  EXPECT_FALSE(bad.is_bot);  // a broken header alone does not trigger a CAPTCHA
}

TEST(BotScorer, RatesDecayAfterAMinute) {
  ManualClock clock;
  BotScorer scorer(clock);
  BotRequest request{.ip = "198.51.100.9", .user_id = "u9", .user_agent = "curl/8"};
  BotScore score;
  for (int i = 0; i < 200; ++i) score = scorer.score(request);
  EXPECT_TRUE(score.is_bot);
  EXPECT_DOUBLE_EQ(score.ip_rate_per_minute, 200);
  clock.advance(seconds{121});
  score = scorer.score(request);
  EXPECT_DOUBLE_EQ(score.ip_rate_per_minute, 1);
  EXPECT_FALSE(score.is_bot);
}

TEST(BotScorer, ThresholdAndWeightsAreConfigurable) {
  ManualClock clock;
  BotScorerConfig config;
  config.threshold = 1;
  BotScorer strict(clock, config);
  EXPECT_TRUE(strict.score({.ip = "x", .user_agent = kChromeUa}).is_bot);
  config.threshold = 80;
  config.weights.headless_user_agent = 0;
  BotScorer lenient(clock, config);
  EXPECT_FALSE(lenient.score({.ip = "x", .user_agent = kHeadlessUa}).is_bot);
}

}  // namespace
}  // namespace fs::gateway
