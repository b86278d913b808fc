#include "gateway_fixture.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <sstream>

#include "domain/jwt.hpp"
#include "runtime/io_runtime.hpp"
#include "support/servers.hpp"

namespace fs::test {
namespace asio = boost::asio;

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string mint(const std::string& sub, const std::string& role,
                 std::optional<std::int64_t> acct_created) {
  auth::Claims c;
  c.sub = sub;
  c.exp = unix_now() + 3600;
  c.role = role;
  c.acct_created = acct_created;
  return auth::sign_jwt(c, kGatewaySecret);
}

http::ClientRequest to_request(const GwCall& call) {
  http::ClientRequest req;
  req.method = call.method;
  req.target = call.target;
  req.body = call.body;
  req.headers = call.headers;
  if (!call.token.empty()) req.headers.push_back({"Authorization", "Bearer " + call.token});
  if (!call.body.empty()) req.headers.push_back({"Content-Type", "application/json"});
  return req;
}

asio::awaitable<void> run_calls(asio::any_io_executor ex, std::uint16_t port,
                                const std::vector<GwCall>& calls,
                                std::vector<http::ClientResponse>& out,
                                std::atomic<std::size_t>& next) {
  auto conn = http::make_connection(ex, {"127.0.0.1", port, std::chrono::seconds{60}});
  for (;;) {
    std::size_t i = next.fetch_add(1);
    if (i >= calls.size()) break;
    auto r = co_await conn->send(to_request(calls[i]));
    if (r) out[i] = std::move(*r);
  }
  conn->close();
}

}  // namespace

std::string gw_user_token(const std::string& sub, std::optional<std::int64_t> acct_created) {
  return mint(sub, "", acct_created);
}
std::string gw_admin_token() { return mint("admin", "admin", std::nullopt); }

std::vector<http::ClientResponse> gw_race(std::uint16_t port, const std::vector<GwCall>& calls,
                                          std::size_t connections) {
  std::vector<http::ClientResponse> out(calls.size());
  std::atomic<std::size_t> next{0};
  IoRuntime rt(2);
  rt.start();
  std::vector<std::future<void>> done;
  for (std::size_t c = 0; c < connections; ++c) {
    auto& ctx = rt.context(c % rt.size());
    done.push_back(asio::co_spawn(ctx, run_calls(ctx.get_executor(), port, calls, out, next),
                                  asio::use_future));
  }
  for (auto& f : done) f.get();
  rt.stop();
  return out;
}

http::ClientResponse gw_send(std::uint16_t port, const GwCall& call) {
  return gw_race(port, {call}, 1).front();
}

std::string gw_reservation_body(const std::string& product_id) {
  return R"({"product_id":")" + product_id + R"(","quantity":1})";
}

GwCall reserve_call(const std::string& product_id, const std::string& user, const std::string& ip,
                    std::vector<http::Header> extra) {
  extra.push_back({"X-Forwarded-For", ip});
  return GwCall("POST", "/v1/reservations", gw_user_token(user), gw_reservation_body(product_id),
                std::move(extra));
}

std::string signals_header(const std::string& json) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < json.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(json[i]) << 16) |
                       (static_cast<unsigned char>(json[i + 1]) << 8) |
                       static_cast<unsigned char>(json[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < json.size()) {
    unsigned v = static_cast<unsigned char>(json[i]) << 16;
    if (i + 1 < json.size()) v |= static_cast<unsigned char>(json[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < json.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string gw_database() { return fresh_database(shared_postgres()); }

GatewayService::GatewayService(const std::string& pg_conninfo, const std::string& redis_prefix,
                               const std::function<void(app::ServiceConfig&)>& tune) {
  app::ServiceConfig cfg;
  cfg.http_port = 0;
  cfg.threads = 2;
  cfg.redis_port = shared_redis().port();
  cfg.pg_conninfo = pg_conninfo;
  cfg.jwt_secret = kGatewaySecret;
  cfg.stock_refresh = std::chrono::milliseconds{50};
  cfg.gateway.trusted_proxies = {"127.0.0.0/8"};
  cfg.gateway.redis_prefix = redis_prefix;
  if (tune) tune(cfg);
  service_ = std::make_unique<app::FlashsaleService>(cfg);
  service_->start();
}

GatewayService::~GatewayService() { service_->stop(); }

void GatewayService::put_product(const std::string& id, std::int64_t stock, int per_user_limit) {
  GwCall call("PUT", "/v1/admin/products/" + id, gw_admin_token(),
              R"({"name":"Gateway phone","price_cents":100,"currency":"usd","stock":)" +
                  std::to_string(stock) + R"(,"shards":4,"per_user_limit":)" +
                  std::to_string(per_user_limit) + "}");
  auto r = gw_send(port(), call);
  ASSERT_EQ(r.status, 200) << r.body;
}

double GatewayService::metric(const std::string& sample) {
  auto r = gw_send(port(), GwCall("GET", "/metrics", "", ""));
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(sample + " ", 0) == 0) return std::stod(line.substr(sample.size() + 1));
  }
  return -1;
}

}  // namespace fs::test
