#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "crowd/crowd.hpp"

namespace fs::crowd {
namespace {

CrowdReport sample_report() {
  CrowdReport r;
  r.product_id = "demo-phone";
  r.connections = 256;
  r.threads = 2;
  r.outcomes.add(201, "", 100);
  r.outcomes.add(410, "sold_out", 899);
  r.outcomes.add(0, "timeout", 1);
  r.total = 1000;
  r.duration_seconds = 0.5;
  r.throughput_rps = 2000;
  std::vector<std::uint32_t> all(1000);
  for (std::uint32_t i = 0; i < 1000; ++i) all[i] = (i + 1) * 10;
  r.latency_all = summarize_latencies(all);
  std::vector<std::uint32_t> created{1500, 2500};
  r.latency_created = summarize_latencies(created);
  r.stats_json =
      R"({"product_id":"demo-phone","stock_total":100,"available":0,"pending":100,"paying":0,)"
      R"("paid":0,"failed":0,"expired":0,"shards":[]})";
  r.stats = *parse_sale_stats(r.stats_json);
  r.stats_at_rest = true;
  InvariantInputs in;
  in.created = 100;
  in.fresh_product = true;
  in.max_created_per_user = 1;
  r.invariants = check_invariants(*r.stats, in);
  return r;
}

TEST(FormatReport, HumanTableShowsOutcomesLatencyAndInvariants) {
  const auto text = format_report(sample_report(), false);
  EXPECT_NE(text.find("1000 requests for 'demo-phone' in 0.50 s = 2000 req/s"), std::string::npos)
      << text;
  EXPECT_NE(text.find("created"), std::string::npos) << text;
  EXPECT_NE(text.find("sold_out"), std::string::npos) << text;
  EXPECT_NE(text.find("89.90%"), std::string::npos) << text;
  EXPECT_NE(text.find("10.00%"), std::string::npos) << text;
  EXPECT_NE(text.find("no response (timeout)"), std::string::npos) << text;
  // all: p50 = 5000 us, p99.9 = 9990 us, max = 10000 us, in ms.
  EXPECT_NE(text.find("5.000"), std::string::npos) << text;
  EXPECT_NE(text.find("9.990"), std::string::npos) << text;
  EXPECT_NE(text.find("10.000"), std::string::npos) << text;
  EXPECT_NE(text.find("stock after the run: total 100 | available 0, pending 100"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("invariants: OK"), std::string::npos) << text;
}

TEST(FormatReport, ViolationsAreSpelledOut) {
  auto r = sample_report();
  r.stats->available = 3;
  InvariantInputs in;
  in.created = 100;
  in.fresh_product = true;
  r.invariants = check_invariants(*r.stats, in);
  const auto text = format_report(r, false);
  EXPECT_NE(text.find("invariants: FAILED"), std::string::npos) << text;
  EXPECT_NE(text.find("  VIOLATION: conservation"), std::string::npos) << text;
}

TEST(FormatReport, UncheckedInvariantsSaySo) {
  auto r = sample_report();
  r.stats.reset();
  r.stats_json.clear();
  r.invariants = InvariantCheck{false, false, "could not fetch stats: HTTP 401 unauthorized"};
  const auto text = format_report(r, false);
  EXPECT_NE(text.find("invariants: NOT CHECKED: could not fetch stats"), std::string::npos) << text;
  EXPECT_EQ(text.find("stock after the run"), std::string::npos) << text;
}

TEST(FormatReport, JsonIsOneParseableObject) {
  const auto text = format_report(sample_report(), true);
  ASSERT_EQ(text.back(), '\n');
  EXPECT_EQ(text.find('\n'), text.size() - 1);
  const auto v = boost::json::parse(text).as_object();
  EXPECT_EQ(v.at("total").to_number<std::uint64_t>(), 1000u);
  EXPECT_DOUBLE_EQ(v.at("throughput_rps").as_double(), 2000.0);
  const auto& outcomes = v.at("outcomes").as_array();
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_EQ(outcomes[1].at("status").as_int64(), 201);
  EXPECT_EQ(outcomes[1].at("count").to_number<std::uint64_t>(), 100u);
  EXPECT_DOUBLE_EQ(outcomes[2].at("percent").as_double(), 89.9);
  const auto& lat = v.at("latency").as_object();
  EXPECT_EQ(lat.at("unit").as_string(), "us");
  EXPECT_EQ(lat.at("all").at("p99_9").to_number<std::uint64_t>(), 9990u);
  EXPECT_EQ(lat.at("created").at("p50").to_number<std::uint64_t>(), 1500u);
  EXPECT_EQ(v.at("stats").at("pending").as_int64(), 100);
  EXPECT_TRUE(v.at("invariants").at("ok").as_bool());
  EXPECT_TRUE(v.at("invariants").at("checked").as_bool());
}

}  // namespace
}  // namespace fs::crowd
