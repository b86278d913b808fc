// run_crowd: the I/O part of the crowd simulator. Everything it decides is in the pure files
// beside it (requests, tally, percentiles, invariants, formatting), which are unit-tested.
#include "crowd/crowd.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "crowd/crowd_requests.hpp"
#include "crowd/gateway_layers.hpp"
#include "crowd/progress_line.hpp"
#include "domain/jwt.hpp"
#include "http/client.hpp"
#include "runtime/io_runtime.hpp"

namespace fs::crowd {
namespace {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kTokenLifetime = std::chrono::hours(1);
constexpr auto kTerminalRefresh = std::chrono::milliseconds(200);
constexpr auto kLogRefresh = std::chrono::seconds(1);
constexpr auto kSettlePoll = std::chrono::milliseconds(200);

// Owned by exactly one connection coroutine while the run lasts, read by the caller afterwards:
// the hot loop shares nothing but the request counter and the progress counters.
struct ConnectionRecord {
  std::vector<std::uint32_t> latency_all;
  std::vector<std::uint32_t> latency_created;
  std::vector<std::uint32_t> created_users;
  OutcomeTally tally;
  OutcomeTally human_tally;
  OutcomeTally bot_tally;
  SteadyClock::time_point finished{};
};

struct LiveCounters {
  std::atomic<std::uint64_t> done{0};
  std::atomic<std::uint64_t> created{0};
  std::atomic<std::uint64_t> sold_out{0};
  std::atomic<std::uint64_t> conflict{0};
  std::atomic<std::uint64_t> other{0};

  void count(int status) {
    constexpr auto r = std::memory_order_relaxed;
    switch (status) {
      case 201:
        created.fetch_add(1, r);
        break;
      case 410:
        sold_out.fetch_add(1, r);
        break;
      case 409:
        conflict.fetch_add(1, r);
        break;
      default:
        other.fetch_add(1, r);
        break;
    }
    done.fetch_add(1, r);
  }
};

struct LoadPlan {
  const CrowdOptions& options;
  http::ConnectionConfig connection;
  std::vector<std::string>
      authorization;  // "Bearer <token>" per user, minted before the clock starts
  std::string body;
  std::vector<std::uint32_t> order;  // user per request when bots join (else user_of_request)
  std::string human_ua = human_user_agent(), human_signals = human_signals_header();
  std::string bot_ua = bot_user_agent(), bot_signals = bot_signals_header();
  std::size_t total = 0;
  std::atomic<std::size_t> next{0};
  LiveCounters live;
};

std::uint32_t micros_since(SteadyClock::time_point start) {
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - start).count();
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(us, 0, UINT32_MAX));
}

asio::awaitable<void> run_connection(LoadPlan& plan, ConnectionRecord& rec) {
  auto conn = http::make_connection(co_await asio::this_coro::executor, plan.connection);
  const bool forwarded = plan.options.forwarded_ips;
  for (;;) {
    const std::size_t i = plan.next.fetch_add(1, std::memory_order_relaxed);
    if (i >= plan.total) break;
    const std::size_t user =
        plan.order.empty() ? user_of_request(i, plan.options.requests_per_user) : plan.order[i];
    const bool bot = user >= plan.options.users;

    http::ClientRequest req;
    req.method = "POST";
    req.target = "/v1/reservations";
    req.headers.reserve(forwarded ? 5 : 4);
    req.headers.push_back({"authorization", plan.authorization[user]});
    req.headers.push_back({"content-type", "application/json"});
    req.headers.push_back({"user-agent", bot ? plan.bot_ua : plan.human_ua});
    req.headers.push_back({"x-client-signals", bot ? plan.bot_signals : plan.human_signals});
    if (forwarded) req.headers.push_back({"x-forwarded-for", forwarded_ip_for(user)});
    req.body = plan.body;

    const auto started = SteadyClock::now();
    auto res = co_await conn->send(std::move(req));
    const std::uint32_t us = micros_since(started);

    int status = 0;
    std::string code;
    if (!res) {
      code = std::string(to_string(res.code()));
    } else {
      status = res->status;
      // Only error bodies are parsed: the 201 path stays as cheap as the client allows.
      if (status >= 300) code = error_code_of(res->body);
    }
    rec.latency_all.push_back(us);
    if (status == 201) {
      rec.latency_created.push_back(us);
      rec.created_users.push_back(static_cast<std::uint32_t>(user));
    }
    rec.tally.add(status, code);
    (bot ? rec.bot_tally : rec.human_tally).add(status, code);
    plan.live.count(status);
  }
  conn->close();
  rec.finished = SteadyClock::now();
}

// Writes into `out` rather than returning: co_spawn needs a default-constructible result.
asio::awaitable<void> single_request(http::ConnectionConfig config, http::ClientRequest request,
                                     std::optional<Result<http::ClientResponse>>& out) {
  auto conn = http::make_connection(co_await asio::this_coro::executor, std::move(config));
  out.emplace(co_await conn->send(std::move(request)));
  conn->close();
}

// For the few set-up and check requests: the caller's thread is not an I/O thread, so it may wait.
Result<http::ClientResponse> request_blocking(asio::io_context& ctx,
                                              const http::ConnectionConfig& config,
                                              http::ClientRequest request) {
  std::optional<Result<http::ClientResponse>> out;
  asio::co_spawn(ctx, single_request(config, std::move(request), out), asio::use_future).get();
  return std::move(*out);
}

std::string describe_failure(const Result<http::ClientResponse>& res) {
  if (!res) return std::string(to_string(res.code())) + ": " + res.error().message;
  std::string code = error_code_of(res->body);
  return "HTTP " + std::to_string(res->status) + (code.empty() ? std::string() : " " + code);
}

Status validate(const CrowdOptions& o) {
  auto bad = [](std::string msg) { return Error{Errc::invalid_request, std::move(msg)}; };
  if (o.jwt_secret.empty()) return bad("a JWT secret is required to mint tokens");
  if (!valid_product_id(o.product_id))
    return bad("product id must be 1-64 chars of [A-Za-z0-9_.-]");
  if (o.users == 0 || o.users > UINT32_MAX) return bad("users must be between 1 and 2^32-1");
  if (o.requests_per_user == 0) return bad("requests per user must be at least 1");
  if (o.bots > 0 && o.requests_per_bot == 0) return bad("requests per bot must be at least 1");
  if (o.connections == 0) return bad("connections must be at least 1");
  if (o.threads == 0) return bad("threads must be at least 1");
  return {};
}

void write_stderr(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stderr);
  std::fflush(stderr);
}

ProgressSnapshot snapshot(const LoadPlan& plan, SteadyClock::time_point start) {
  ProgressSnapshot s;
  constexpr auto r = std::memory_order_relaxed;
  s.done = plan.live.done.load(r);
  s.total = plan.total;
  s.created = plan.live.created.load(r);
  s.sold_out = plan.live.sold_out.load(r);
  s.conflict = plan.live.conflict.load(r);
  s.other = plan.live.other.load(r);
  s.elapsed_seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  return s;
}

void fetch_stats_and_check(IoRuntime& rt, const LoadPlan& plan, const std::string& admin_auth,
                           CrowdReport& report) {
  const auto& o = plan.options;
  const bool one_click = !o.payment_method.empty();
  const auto deadline = SteadyClock::now() + o.settle_timeout;
  report.invariants = InvariantCheck{};
  for (;;) {
    http::ClientRequest req;
    req.method = "GET";
    req.target = "/v1/admin/products/" + o.product_id + "/stats";
    req.headers.push_back({"authorization", admin_auth});
    auto res = request_blocking(rt.context(0), plan.connection, std::move(req));
    if (!res || res->status != 200) {
      report.invariants.message = "could not fetch stats: " + describe_failure(res);
      return;
    }
    auto parsed = parse_sale_stats(res->body);
    if (!parsed) {
      report.invariants.message = "could not parse stats: " + parsed.error().message;
      return;
    }
    report.stats_json = std::move(res->body);
    report.stats = *parsed;
    report.stats_at_rest = at_rest(*parsed, one_click);
    if (report.stats_at_rest || SteadyClock::now() >= deadline) break;
    // Polling the server: payments settle on its clock, and there is nothing local to await.
    std::this_thread::sleep_for(kSettlePoll);
  }
  InvariantInputs in;
  in.created = report.outcomes.count_status(201);
  in.fresh_product = o.setup_product;
  in.per_user_limit = o.per_user_limit;
  in.max_created_per_user = report.max_created_per_user;
  report.invariants = check_invariants(*report.stats, in);
  if (!report.stats_at_rest)
    report.invariants.message +=
        "\n(payments were still in flight after the settle timeout: conservation was checked "
        "on a moving target)";
}

}  // namespace

Result<CrowdReport> run_crowd(const CrowdOptions& options) {
  if (auto st = validate(options); !st) return std::move(st).error();

  LoadPlan plan{options,
                http::ConnectionConfig{options.host, options.port, options.request_timeout}};
  plan.total = options.users * options.requests_per_user + options.bots * options.requests_per_bot;
  if (options.bots > 0)
    plan.order = click_order(options.users, options.requests_per_user, options.bots,
                             options.requests_per_bot, 0x5eed);
  plan.body = reservation_body(options);

  // Tokens first, so minting (an HMAC and a JSON serialisation each) never counts as latency.
  const auto now = SystemClock::instance().now();
  const std::int64_t exp =
      std::chrono::duration_cast<std::chrono::seconds>((now + kTokenLifetime).time_since_epoch())
          .count();
  plan.authorization.reserve(options.users + options.bots);
  for (std::size_t u = 0; u < options.users + options.bots; ++u) {
    auth::Claims claims;
    claims.sub = user_subject(u);
    claims.exp = exp;
    plan.authorization.push_back("Bearer " + auth::sign_jwt(claims, options.jwt_secret));
  }
  auth::Claims admin;
  admin.sub = "crowd-admin";
  admin.exp = exp;
  admin.role = "admin";
  const std::string admin_auth = "Bearer " + auth::sign_jwt(admin, options.jwt_secret);

  IoRuntime rt(options.threads, "fs-crowd");
  rt.start();

  if (options.setup_product) {
    http::ClientRequest req;
    req.method = "PUT";
    req.target = "/v1/admin/products/" + options.product_id;
    req.headers.push_back({"authorization", admin_auth});
    req.headers.push_back({"content-type", "application/json"});
    req.body = product_body(options);
    auto res = request_blocking(rt.context(0), plan.connection, std::move(req));
    if (!res) return Error{res.code(), "product setup failed: " + describe_failure(res)};
    if (res->status != 200)
      return Error{Errc::backend_error, "product setup failed: " + describe_failure(res)};
  }

  const std::size_t workers = std::min(options.connections, plan.total);
  std::vector<ConnectionRecord> records(workers);
  for (auto& r : records) {
    r.latency_all.reserve(plan.total / workers + 1);
  }

  std::mutex mu;
  std::condition_variable cv;
  std::size_t running = workers;
  std::exception_ptr failure;

  const auto start = SteadyClock::now();
  for (std::size_t c = 0; c < workers; ++c) {
    asio::co_spawn(rt.context(c % rt.size()), run_connection(plan, records[c]),
                   [&](std::exception_ptr e) {
                     std::lock_guard lk(mu);
                     if (e && !failure) failure = e;
                     if (--running == 0) cv.notify_all();
                   });
  }

  const bool terminal = options.progress && ::isatty(STDERR_FILENO) == 1;
  const auto refresh = terminal
                           ? std::chrono::duration_cast<SteadyClock::duration>(kTerminalRefresh)
                           : std::chrono::duration_cast<SteadyClock::duration>(kLogRefresh);
  {
    auto last_print = start;
    std::uint64_t last_done = 0;
    std::unique_lock lk(mu);
    while (!cv.wait_for(lk, refresh, [&] { return running == 0; })) {
      if (!options.progress) continue;
      lk.unlock();
      auto s = snapshot(plan, start);
      const auto t = SteadyClock::now();
      const double window = std::chrono::duration<double>(t - last_print).count();
      s.rps = window > 0 ? static_cast<double>(s.done - last_done) / window : 0;
      last_print = t;
      last_done = s.done;
      write_stderr(format_progress(s, terminal));
      lk.lock();
    }
  }
  if (failure) std::rethrow_exception(failure);  // a bug in the crowd itself, not a server outcome

  CrowdReport report;
  report.product_id = options.product_id;
  report.connections = workers;
  report.bots = options.bots;
  report.threads = rt.size();
  SteadyClock::time_point finished = start;
  std::vector<std::uint32_t> all;
  std::vector<std::uint32_t> created;
  std::vector<std::uint32_t> created_users;
  all.reserve(plan.total);
  for (auto& r : records) {
    finished = std::max(finished, r.finished);
    report.outcomes.merge(r.tally);
    report.human_outcomes.merge(r.human_tally);
    report.bot_outcomes.merge(r.bot_tally);
    all.insert(all.end(), r.latency_all.begin(), r.latency_all.end());
    created.insert(created.end(), r.latency_created.begin(), r.latency_created.end());
    created_users.insert(created_users.end(), r.created_users.begin(), r.created_users.end());
    r = ConnectionRecord{};  // release memory early: 100k-request runs keep a few MB per copy
  }
  report.total = report.outcomes.total();
  report.duration_seconds = std::chrono::duration<double>(finished - start).count();
  report.throughput_rps =
      report.duration_seconds > 0 ? static_cast<double>(report.total) / report.duration_seconds : 0;
  report.latency_all = summarize_latencies(all);
  report.latency_created = summarize_latencies(created);
  report.max_created_per_user = most_created_by_one_user(created_users);

  if (options.progress) {
    auto s = snapshot(plan, start);
    s.elapsed_seconds = report.duration_seconds;
    s.rps = report.throughput_rps;
    write_stderr(format_progress(s, terminal) + (terminal ? "\n" : ""));
  }

  fetch_stats_and_check(rt, plan, admin_auth, report);
  {
    http::ClientRequest req;
    req.method = "GET";
    req.target = "/metrics";
    auto metrics = request_blocking(rt.context(0), plan.connection, std::move(req));
    if (metrics && metrics->status == 200) report.queued = queued_from_metrics(metrics->body);
  }
  rt.stop();
  return report;
}

}  // namespace fs::crowd
