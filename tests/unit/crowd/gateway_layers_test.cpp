#include "crowd/gateway_layers.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace fs::crowd {
namespace {

TEST(ClickOrder, EveryUserClicksItsCountBackToBack) {
  auto order = click_order(5, 2, 3, 4, 7);
  ASSERT_EQ(order.size(), 5u * 2 + 3u * 4);
  std::map<std::uint32_t, int> clicks;
  for (auto u : order) ++clicks[u];
  for (std::uint32_t u = 0; u < 5; ++u) EXPECT_EQ(clicks[u], 2);
  for (std::uint32_t u = 5; u < 8; ++u) EXPECT_EQ(clicks[u], 4);
  // Runs are contiguous: a user's clicks are adjacent.
  for (std::size_t i = 1; i < order.size(); ++i) {
    if (order[i] != order[i - 1]) {
      EXPECT_EQ(std::count(order.begin() + static_cast<long>(i), order.end(), order[i - 1]), 0);
    }
  }
  EXPECT_EQ(order, click_order(5, 2, 3, 4, 7));  // deterministic for a seed
}

TEST(CountLayers, MapsAnswersToFlowEightRows) {
  OutcomeTally t;
  t.add(429, "rate_limited", 5);
  t.add(503, "overloaded", 4);
  t.add(408, "queue_timeout", 3);
  t.add(403, "captcha_required", 2);
  t.add(403, "blocked", 1);
  t.add(410, "sold_out", 6);
  t.add(201, "", 7);
  t.add(409, "limit_exceeded", 1);
  auto c = count_layers(t);
  EXPECT_EQ(c.total, 29u);
  EXPECT_EQ(c.rate_limited, 5u);
  EXPECT_EQ(c.queue_full, 4u);
  EXPECT_EQ(c.timed_out, 3u);
  EXPECT_EQ(c.bot_blocked, 3u);
  EXPECT_EQ(c.sold_out, 6u);
  EXPECT_EQ(c.reserved, 7u);
  EXPECT_EQ(c.other, 1u);
}

TEST(QueuedFromMetrics, CountsWaitsOfAtLeastOneMillisecond) {
  const std::string text =
      "# TYPE flashsale_admission_queue_wait_seconds histogram\n"
      "flashsale_admission_queue_wait_seconds_count 120\n"
      "flashsale_admission_queue_wait_seconds_sum 3.5\n"
      "flashsale_admission_queue_wait_seconds_bucket{le=\"0.001\"} 20\n";
  EXPECT_EQ(queued_from_metrics(text), 100);
  EXPECT_EQ(queued_from_metrics("nothing here"), -1);
}

TEST(BotHeaders, AreBase64OfTheSignalsJson) {
  EXPECT_FALSE(human_signals_header().empty());
  EXPECT_NE(bot_user_agent().find("HeadlessChrome"), std::string::npos);
  EXPECT_EQ(human_user_agent().find("Headless"), std::string::npos);
}

}  // namespace
}  // namespace fs::crowd
