// End-to-end payment saga benchmark (docs/benchmarks.md, "The payment saga"): the whole system in
// one process the way `flashsale up` runs it (redis-server, PostgreSQL with fsync=on, the service,
// the payment simulator, the saga workers), N one-click purchases ("Buy Now" with a payment
// method) over K connections, then:
//   orders confirmed per second = orders / (last order's commit - first order's commit)
//   latency = order row's commit time (created_at, database clock) - the click's send time
// The clicks are paced at an offered rate the saga concurrency can carry (Little's law:
// utilization x concurrency / mean provider latency), so that the latency measured is the
// saga's, not the queue of a burst; with 0 provider latency (or utilization 0) they come as one
// burst. One run per concurrency of the comma-separated list, on the same servers.
// Usage: saga_e2e [purchases] [saga_concurrency[,c2,...]] [latency_min_ms] [latency_max_ms]
//                 [connections] [utilization (default 0.7; 0 = burst)]
#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "app/service.hpp"
#include "app/workers.hpp"
#include "domain/jwt.hpp"
#include "http/client.hpp"
#include "payments_sim/payment_simulator.hpp"
#include "runtime/io_runtime.hpp"
#include "stack/local_servers.hpp"

namespace asio = boost::asio;
using Clock = std::chrono::system_clock;

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

std::string token(const std::string& secret, const std::string& sub, bool admin) {
  fs::auth::Claims c;
  c.sub = sub;
  c.exp = now_ms() / 1000 + 3600;
  if (admin) c.role = "admin";
  return fs::auth::sign_jwt(c, secret);
}

std::string psql(const std::string& conninfo, const std::string& sql) {
  auto out = fs::stack::run_command({"psql", conninfo, "-At", "-c", sql});
  if (!out) {
    std::fprintf(stderr, "psql: %s\n", out.error().message.c_str());
    return {};
  }
  std::string text = *out;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t purchases = argc > 1 ? std::stoul(argv[1]) : 1000;
  std::vector<std::size_t> concurrencies;
  {
    std::stringstream list(argc > 2 ? argv[2] : "16");
    for (std::string item; std::getline(list, item, ',');)
      if (!item.empty()) concurrencies.push_back(std::stoul(item));
  }
  const int lat_min = argc > 3 ? std::stoi(argv[3]) : 0;
  const int lat_max = argc > 4 ? std::stoi(argv[4]) : 0;
  const std::size_t connections = argc > 5 ? std::stoul(argv[5]) : 64;
  const double utilization = argc > 6 ? std::stod(argv[6]) : 0.7;

  char tmpl[] = "/tmp/flashsale-saga-bench-XXXXXX";
  const std::filesystem::path dir = ::mkdtemp(tmpl);
  std::filesystem::permissions(dir, std::filesystem::perms::all);
  std::filesystem::create_directories(dir / "redis");
  std::filesystem::create_directories(dir / "postgres");
  fs::stack::RedisOptions ro;
  ro.dir = dir / "redis";
  auto redis = fs::stack::RedisServer::start(ro);
  fs::stack::PostgresOptions po;
  po.dir = dir / "postgres";
  auto pg = fs::stack::PostgresServer::start(po);
  if (!redis || !pg) {
    std::cerr << "could not start redis/postgres\n";
    return 1;
  }
  const std::string secret = "bench-secret";
  fs::IoRuntime sim_rt(1);
  sim_rt.start();
  fs::payments_sim::PaymentSimulatorOptions so;
  so.latency_min = std::chrono::milliseconds{lat_min};
  so.latency_max = std::chrono::milliseconds{lat_max};
  fs::payments_sim::PaymentSimulator sim(sim_rt, so);
  sim.start();

  fs::app::ServiceConfig sc;
  sc.http_port = 0;
  sc.threads = 2;
  sc.redis_port = (*redis)->port();
  sc.pg_conninfo = (*pg)->conninfo();
  sc.jwt_secret = secret;
  auto service = std::make_unique<fs::app::FlashsaleService>(sc);
  service->start();
  fs::IoRuntime rt(2);
  rt.start();
  const auto port = service->port();
  // Trivial captures only (GCC 12 destroys non-trivial captures of a coroutine lambda twice).
  auto send = [&](const fs::http::ClientRequest& req) {
    fs::http::ClientResponse out;
    asio::co_spawn(
        rt.context(0),
        [&]() -> asio::awaitable<void> {
          // No co_await in the statement that builds the config (GCC 12 copies such a temporary
          // aggregate bytewise).
          auto ex = co_await asio::this_coro::executor;
          fs::http::ConnectionConfig cc{"127.0.0.1", port, std::chrono::seconds{30}};
          auto c = fs::http::make_connection(ex, cc);
          auto r = co_await c->send(req);
          c->close();
          if (r) out = std::move(*r);
        },
        asio::use_future)
        .get();
    return out;
  };

  for (std::size_t run = 0; run < concurrencies.size(); ++run) {
    const std::size_t concurrency = concurrencies[run];
    fs::app::WorkersConfig wc;
    wc.roles = {"saga"};
    wc.redis_port = sc.redis_port;
    wc.pg_conninfo = sc.pg_conninfo;
    wc.payments_port = sim.port();
    wc.saga_concurrency = concurrency;
    wc.intake_poll = std::chrono::milliseconds{10};
    wc.payments_timeout = std::chrono::milliseconds{10'000};
    auto workers = std::make_unique<fs::app::BackgroundWorkers>(wc);
    workers->start();

    // The offered rate: `utilization` of what `concurrency` sagas in flight carry at the mean
    // provider latency (plus ~50 ms of the saga's own work); 0: one burst.
    const double mean_s = (lat_min + lat_max) / 2000.0 + 0.05;
    const double rate = (utilization > 0 && lat_max > 0)
                            ? utilization * static_cast<double>(concurrency) / mean_s
                            : 0.0;

    const std::string product = "bench-phone-" + std::to_string(run);
    auto put = send({"PUT",
                     "/v1/admin/products/" + product,
                     {{"Authorization", "Bearer " + token(secret, "admin", true)},
                      {"Content-Type", "application/json"}},
                     R"({"name":"Bench","price_cents":1000,"currency":"usd","stock":)" +
                         std::to_string(purchases) + R"(,"shards":10})"});
    if (put.status != 200) {
      std::cerr << "PUT product: " << put.status << " " << put.body << "\n";
      return 1;
    }
    std::vector<std::string> tokens;
    for (std::size_t i = 0; i < purchases; ++i)
      tokens.push_back(
          token(secret, "buyer-" + std::to_string(run) + "-" + std::to_string(i), false));

    std::vector<std::int64_t> click_ms(purchases);
    std::vector<std::string> ids(purchases);
    std::atomic<std::size_t> next{0};
    const std::string body =
        R"({"product_id":")" + product + R"(","quantity":1,"payment_method":"pm_card_visa"})";
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::future<void>> done;
    for (std::size_t c = 0; c < connections; ++c) {
      auto& ctx = rt.context(c % rt.size());
      done.push_back(asio::co_spawn(
          ctx,
          [&, ex = ctx.get_executor()]() -> asio::awaitable<void> {
            auto conn =
                fs::http::make_connection(ex, {"127.0.0.1", port, std::chrono::seconds{30}});
            asio::steady_timer pace(ex);
            for (;;) {
              const std::size_t i = next.fetch_add(1);
              if (i >= purchases) break;
              if (rate > 0) {
                pace.expires_at(start + std::chrono::microseconds{static_cast<std::int64_t>(
                                            static_cast<double>(i) * 1e6 / rate)});
                co_await pace.async_wait(asio::as_tuple(asio::use_awaitable));
              }
              fs::http::ClientRequest req{
                  "POST",
                  "/v1/reservations",
                  {{"Authorization", "Bearer " + tokens[i]}, {"Content-Type", "application/json"}},
                  body};
              click_ms[i] = now_ms();
              auto r = co_await conn->send(std::move(req));
              if (r && r->status == 201) {
                auto v = boost::json::parse(r->body);
                ids[i] = std::string(v.as_object()["reservation_id"].as_string());
              }
            }
            conn->close();
          },
          asio::use_future));
    }
    for (auto& f : done) f.get();
    const auto created = std::count_if(ids.begin(), ids.end(), [](auto& s) { return !s.empty(); });
    std::fprintf(stderr, "%ld of %zu purchases answered 201; waiting for the sagas\n",
                 static_cast<long>(created), purchases);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes{10};
    for (;;) {
      const auto open = psql(sc.pg_conninfo,
                             "SELECT count(*) FROM reservations WHERE status IN "
                             "('PENDING','PAYING')");
      if (open == "0") break;
      if (std::chrono::steady_clock::now() >= deadline) {
        std::fprintf(stderr, "gave up waiting: %s open\n", open.c_str());
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
    workers->stop();
    std::fprintf(stderr, "saga attempts per reservation (attempts:count): %s\n",
                 psql(sc.pg_conninfo,
                      "SELECT string_agg(a || ':' || n, ' ') FROM (SELECT saga_attempts a, "
                      "count(*) n FROM reservations WHERE product_id = '" +
                          product + "' GROUP BY 1) t")
                     .c_str());
    std::map<std::string, std::int64_t> committed;
    auto rows =
        psql(sc.pg_conninfo,
             "SELECT reservation_id || ' ' || (extract(epoch from created_at) * 1000)::bigint "
             "FROM orders WHERE product_id = '" +
                 product + "'");
    for (std::size_t pos = 0; pos < rows.size();) {
      auto nl = rows.find('\n', pos);
      if (nl == std::string::npos) nl = rows.size();
      auto line = rows.substr(pos, nl - pos);
      auto sp = line.find(' ');
      if (sp != std::string::npos) committed[line.substr(0, sp)] = std::stoll(line.substr(sp + 1));
      pos = nl + 1;
    }
    std::vector<double> lat;
    std::int64_t first_order = INT64_MAX, last_order = 0;
    for (std::size_t i = 0; i < purchases; ++i) {
      auto it = committed.find(ids[i]);
      if (it == committed.end()) continue;
      lat.push_back(static_cast<double>(it->second - click_ms[i]));
      last_order = std::max(last_order, it->second);
      first_order = std::min(first_order, it->second);
    }
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double p) {
      return lat.empty() ? 0.0
                         : lat[std::min(lat.size() - 1, static_cast<std::size_t>(p * lat.size()))];
    };
    // Throughput: orders committed per second while orders were being committed (first to last
    // commit), so that the first order's latency does not count against a short run.
    const double secs = static_cast<double>(last_order - first_order) / 1000.0;
    std::printf(
        "purchases %zu created %ld orders %zu | saga concurrency %zu, provider latency %d-%d ms, "
        "offered %.1f/s | %.1f orders/s | Buy Now -> order committed: p50 %.0f ms, p90 %.0f ms, "
        "p99 %.0f ms, max %.0f ms\n",
        purchases, static_cast<long>(created), lat.size(), concurrency, lat_min, lat_max, rate,
        secs > 0 ? static_cast<double>(lat.size() - 1) / secs : 0.0, pct(0.5), pct(0.9), pct(0.99),
        lat.empty() ? 0.0 : lat.back());
    std::fflush(stdout);
  }

  service->stop();
  sim.stop();
  sim_rt.stop();
  rt.stop();
  (*pg)->stop();
  (*redis)->stop();
  std::filesystem::remove_all(dir);
  return 0;
}
