#pragma once
// The crowd simulator: an async HTTP load generator that plays a flash-sale crowd (many distinct
// users clicking "Buy Now" at once) against a running flashsale server, then checks the sale's
// invariants from the admin stats. Used by `flashsale crowd`, the demo, the tests and benchmarks.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/result.hpp"
#include "crowd/latency_summary.hpp"
#include "crowd/outcome_tally.hpp"
#include "crowd/sale_stats.hpp"

namespace fs::crowd {

struct CrowdOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string jwt_secret;  // to mint tokens (HS256) for users and an admin
  std::string product_id = "demo-phone";
  std::size_t users = 100000;  // distinct users user-000001..
  std::size_t requests_per_user = 1;
  std::size_t connections = 256;  // concurrent keep-alive connections
  std::size_t threads = 2;        // io_contexts
  bool setup_product = true;      // PUT /v1/admin/products/{id} first
  std::int64_t stock = 100;
  int shards = 10;
  int per_user_limit = 1;
  std::int64_t price_cents = 79900;
  std::string currency = "usd";
  int reservation_ttl_seconds = 600;
  bool progress = true;  // progress bar on stderr (only when stderr is a TTY, else periodic lines)
  bool json = false;     // print the report as one JSON object on stdout
  std::string payment_method;  // when non-empty, sent in the body (one-click buy)
  bool forwarded_ips = false;  // send X-Forwarded-For with a distinct IP per user
  // Bots join the humans (users): they send headless signals and a HeadlessChrome User-Agent
  // and hammer (requests_per_bot clicks back to back). Humans send browser-like signals.
  std::size_t bots = 0;
  std::size_t requests_per_bot = 20;
  std::chrono::milliseconds request_timeout{10'000};
  // How long to wait after the run for in-flight payments to settle before checking invariants.
  std::chrono::milliseconds settle_timeout{30'000};
};

struct CrowdReport {
  std::string product_id;
  std::size_t connections = 0;
  std::size_t threads = 0;
  OutcomeTally outcomes;  // by (HTTP status, error code); status 0 = no HTTP answer
  OutcomeTally human_outcomes;
  OutcomeTally bot_outcomes;
  std::size_t bots = 0;
  // Requests the server's admission queue held >= 1 ms (from its /metrics, cumulative over the
  // server's life); -1 when unknown (no queue).
  std::int64_t queued = -1;
  std::uint64_t total = 0;
  double duration_seconds = 0;
  double throughput_rps = 0;
  LatencySummary latency_all;      // microseconds
  LatencySummary latency_created;  // 201s only
  std::uint64_t max_created_per_user = 0;
  std::string stats_json;          // raw body of the stats fetched after the run (may be empty)
  std::optional<SaleStats> stats;  // parsed, when the fetch succeeded
  bool stats_at_rest = false;      // false when in-flight payments did not settle in time
  InvariantCheck invariants;
};

// Blocking: starts its own IoRuntime threads, returns when every request has been answered and
// the stats were fetched. Errors: a failed product setup or invalid options
// (Errc::invalid_request).
Result<CrowdReport> run_crowd(const CrowdOptions& options);

// A human table, or (json) one JSON object on a single line.
std::string format_report(const CrowdReport& report, bool json);

}  // namespace fs::crowd
