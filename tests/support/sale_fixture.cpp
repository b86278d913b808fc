#include "support/sale_fixture.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <future>

#include "common/clock.hpp"
#include "domain/jwt.hpp"
#include "runtime/io_runtime.hpp"
#include "support/servers.hpp"

namespace fs::test {
namespace asio = boost::asio;

namespace {
http::ClientRequest to_request(const Call& call) {
  http::ClientRequest req;
  req.method = call.method;
  req.target = call.target;
  req.body = call.body;
  req.headers = call.headers;
  if (!call.token.empty()) req.headers.push_back({"Authorization", "Bearer " + call.token});
  if (!call.body.empty()) req.headers.push_back({"Content-Type", "application/json"});
  return req;
}
}  // namespace

std::string mint_token(const std::string& sub, const std::string& role, const char* secret,
                       std::optional<std::int64_t> acct_created) {
  auth::Claims c;
  c.sub = sub;
  c.exp = std::chrono::duration_cast<std::chrono::seconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count() +
          3600;
  c.role = role;
  c.acct_created = acct_created;
  return auth::sign_jwt(c, secret);
}

std::string user_token(const std::string& sub) { return mint_token(sub, "", kSecret); }
std::string admin_token() { return mint_token("admin", "admin", kSecret); }

std::string reservation_body(const std::string& product_id, int quantity) {
  return R"({"product_id":")" + product_id + R"(","quantity":)" + std::to_string(quantity) + "}";
}

std::string product_body(std::int64_t stock, int shards, int per_user_limit,
                         const std::string& extra) {
  return R"({"name":"Test phone","price_cents":79900,"currency":"usd","stock":)" +
         std::to_string(stock) + R"(,"shards":)" + std::to_string(shards) +
         R"(,"per_user_limit":)" + std::to_string(per_user_limit) + extra + "}";
}

std::vector<http::ClientResponse> race(std::uint16_t port, const std::vector<Call>& calls,
                                       std::size_t connections, std::chrono::seconds timeout) {
  std::vector<http::ClientResponse> out(calls.size());
  std::atomic<std::size_t> next{0};
  IoRuntime rt(2);
  rt.start();
  std::vector<std::future<void>> done;
  for (std::size_t c = 0; c < connections; ++c) {
    auto& ctx = rt.context(c % rt.size());
    done.push_back(asio::co_spawn(
        ctx,
        [&, ex = ctx.get_executor()]() -> asio::awaitable<void> {
          auto conn = http::make_connection(ex, {"127.0.0.1", port, timeout});
          for (;;) {
            std::size_t i = next.fetch_add(1);
            if (i >= calls.size()) break;
            auto r = co_await conn->send(to_request(calls[i]));
            if (r) out[i] = std::move(*r);
          }
          conn->close();
        },
        asio::use_future));
  }
  for (auto& f : done) f.get();
  rt.stop();
  return out;
}

http::ClientResponse send_one(std::uint16_t port, const Call& call) {
  return race(port, {call}, 1).front();
}

ServiceUnderTest::ServiceUnderTest(std::uint16_t redis_port, const std::string& pg_conninfo,
                                   const std::function<void(app::ServiceConfig&)>& tune)
    : pg_conninfo_(pg_conninfo) {
  app::ServiceConfig cfg;
  cfg.http_port = 0;
  cfg.threads = 2;
  cfg.redis_port = redis_port;
  cfg.pg_conninfo = pg_conninfo;
  cfg.jwt_secret = kSecret;
  cfg.stock_refresh = std::chrono::milliseconds{50};
  cfg.hold_sweep_interval = std::chrono::milliseconds{500};
  cfg.hold_min_age = std::chrono::milliseconds{3000};
  if (tune) tune(cfg);
  service_ = std::make_unique<app::FlashsaleService>(cfg);
  service_->start();
}

ServiceUnderTest::~ServiceUnderTest() { service_->stop(); }

std::string ServiceUnderTest::sql(const std::string& statement) {
  auto out =
      stack::run_command({"psql", pg_conninfo_, "-v", "ON_ERROR_STOP=1", "-At", "-c", statement});
  EXPECT_TRUE(out.ok()) << (out.ok() ? "" : out.error().message);
  if (!out.ok()) return "";
  std::string text = *out;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

void ServiceUnderTest::put_product(const std::string& id, std::int64_t stock, int shards,
                                   int per_user_limit) {
  auto r = send_one(port(), {"PUT",
                             "/v1/admin/products/" + id,
                             admin_token(),
                             product_body(stock, shards, per_user_limit),
                             {}});
  ASSERT_EQ(r.status, 200) << r.body;
}

ServiceUnderTest::Stats ServiceUnderTest::stats(const std::string& id) {
  auto r = send_one(port(), {"GET", "/v1/admin/products/" + id + "/stats", admin_token(), "", {}});
  Stats s;  // all -1 when the stats could not be read (callers assert on the values)
  if (r.status != 200) return s;
  auto v = boost::json::parse(r.body).as_object();
  s.stock_total = v["stock_total"].as_int64();
  s.available = v["available"].as_int64();
  s.pending = v["pending"].as_int64();
  s.paying = v["paying"].as_int64();
  s.paid = v["paid"].as_int64();
  s.failed = v["failed"].as_int64();
  s.expired = v["expired"].as_int64();
  for (auto& sh : v["shards"].as_array())
    s.shards.push_back(sh.as_object()["available"].as_int64());
  return s;
}

ServiceUnderTest& shared_service() {
  static ServiceUnderTest svc(shared_redis().port(), fresh_database(shared_postgres()));
  return svc;
}

}  // namespace fs::test
