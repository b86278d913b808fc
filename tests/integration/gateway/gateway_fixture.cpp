#include "gateway_fixture.hpp"

#include <gtest/gtest.h>

#include "support/metrics_text.hpp"
#include "support/sale_fixture.hpp"
#include "support/servers.hpp"

namespace fs::test {

std::string gw_user_token(const std::string& sub, std::optional<std::int64_t> acct_created) {
  return mint_token(sub, "", kGatewaySecret, acct_created);
}
std::string gw_admin_token() { return mint_token("admin", "admin", kGatewaySecret); }

std::vector<http::ClientResponse> gw_race(std::uint16_t port, const std::vector<GwCall>& calls,
                                          std::size_t connections) {
  std::vector<Call> plain;
  plain.reserve(calls.size());
  for (const auto& c : calls) plain.push_back(Call{c.method, c.target, c.token, c.body, c.headers});
  return race(port, plain, connections, std::chrono::seconds{60});
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
  return sample_value(gw_send(port(), GwCall("GET", "/metrics", "", "")).body, sample);
}

}  // namespace fs::test
