// Requests by route, status and code (metrics/http_metrics.cpp): each (route, status, code)
// counts into its own series, whatever order they come in and wherever their text lives, and a
// thread's cached lookups never carry over to another HttpMetrics.
#include "metrics/http_metrics.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "metrics/metrics_registry.hpp"

namespace fs::metrics {
namespace {

using namespace std::chrono_literals;

std::string count_line(std::string_view code, std::string_view route, int status) {
  return "flashsale_http_requests_total{code=\"" + std::string(code) + "\",route=\"" +
         std::string(route) + "\",status=\"" + std::to_string(status) + "\"} ";
}

// The counter's value in the exposition, -1 when the series is absent.
long long count_of(const std::string& text, std::string_view code, std::string_view route,
                   int status) {
  const auto line = count_line(code, route, status);
  const auto at = text.find(line);
  if (at == std::string::npos) return -1;
  return std::stoll(text.substr(at + line.size()));
}

TEST(HttpMetrics, EveryRouteStatusAndCodeCountsIntoItsOwnSeries) {
  MetricsRegistry registry;
  HttpMetrics m(registry);
  for (int i = 0; i < 3; ++i) m.observe("/v1/reservations", 410, "sold_out", 1ms);
  for (int i = 0; i < 2; ++i) m.observe("/v1/reservations", 409, "limit_exceeded", 1ms);
  m.observe("/v1/reservations", 410, "sold_out", 1ms);
  m.observe("/v1/reservations", 201, "", 1ms);
  // The same buffer, rewritten: equal text is the same series, other text another one.
  std::string route = "/v1/products/{id}";
  m.observe(route, 200, "", 1ms);
  route.assign("/v1/orders/{id}__");
  route.resize(15);  // "/v1/orders/{id}", in the same storage
  m.observe(route, 200, "", 1ms);
  m.observe(route, 200, "", 1ms);
  m.observe("/v1/reservations", 410, "sold", 1ms);  // a code that is a prefix of the last one

  const auto text = registry.serialize();
  EXPECT_EQ(count_of(text, "sold_out", "/v1/reservations", 410), 4) << text;
  EXPECT_EQ(count_of(text, "limit_exceeded", "/v1/reservations", 409), 2);
  EXPECT_EQ(count_of(text, "", "/v1/reservations", 201), 1);
  EXPECT_EQ(count_of(text, "", "/v1/products/{id}", 200), 1);
  EXPECT_EQ(count_of(text, "", "/v1/orders/{id}", 200), 2);
  EXPECT_EQ(count_of(text, "sold", "/v1/reservations", 410), 1);
}

TEST(HttpMetrics, AnotherInstanceOnTheSameThreadStartsItsOwnSeries) {
  MetricsRegistry first_registry;
  auto first = std::make_unique<HttpMetrics>(first_registry);
  first->observe("/v1/reservations", 410, "sold_out", 1ms);
  MetricsRegistry second_registry;
  HttpMetrics second(second_registry);
  second.observe("/v1/reservations", 410, "sold_out", 1ms);
  second.observe("/v1/reservations", 410, "sold_out", 1ms);
  EXPECT_EQ(count_of(first_registry.serialize(), "sold_out", "/v1/reservations", 410), 1);
  EXPECT_EQ(count_of(second_registry.serialize(), "sold_out", "/v1/reservations", 410), 2);
  first->observe("/v1/reservations", 410, "sold_out", 1ms);  // back to the first one
  EXPECT_EQ(count_of(first_registry.serialize(), "sold_out", "/v1/reservations", 410), 2);
  EXPECT_EQ(count_of(second_registry.serialize(), "sold_out", "/v1/reservations", 410), 2);
}

}  // namespace
}  // namespace fs::metrics
