#pragma once
// The service in-process with gateway layers on, over the shared redis-server and a fresh
// PostgreSQL database, plus a racing HTTP client and raw sockets for disconnect tests.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/service.hpp"
#include "http/client.hpp"

namespace fs::test {

inline constexpr const char* kGatewaySecret = "gateway-test-secret";

std::string gw_user_token(const std::string& sub,
                          std::optional<std::int64_t> acct_created = std::nullopt);
std::string gw_admin_token();

struct GwCall {
  GwCall() = default;
  GwCall(std::string m, std::string t, std::string tok, std::string b,
         std::vector<http::Header> h = {})
      : method(std::move(m)),
        target(std::move(t)),
        token(std::move(tok)),
        body(std::move(b)),
        headers(std::move(h)) {}
  std::string method = "POST";
  std::string target = "/v1/reservations";
  std::string token;
  std::string body;
  std::vector<http::Header> headers;
};

// All calls over `connections` concurrent keep-alive connections; responses in call order.
std::vector<http::ClientResponse> gw_race(std::uint16_t port, const std::vector<GwCall>& calls,
                                          std::size_t connections);
http::ClientResponse gw_send(std::uint16_t port, const GwCall& call);

std::string gw_reservation_body(const std::string& product_id);
// A reservation from `user` presenting client IP `ip` (through X-Forwarded-For).
GwCall reserve_call(const std::string& product_id, const std::string& user, const std::string& ip,
                    std::vector<http::Header> extra = {});

// Base64 of X-Client-Signals JSON.
std::string signals_header(const std::string& json);

class GatewayService {
 public:
  // `redis_prefix` isolates the gateway's Redis keys; instances sharing it share bans/limits.
  GatewayService(const std::string& pg_conninfo, const std::string& redis_prefix,
                 const std::function<void(app::ServiceConfig&)>& tune);
  ~GatewayService();
  std::uint16_t port() const { return service_->port(); }
  void put_product(const std::string& id, std::int64_t stock, int per_user_limit = 1);
  // A sample's value from /metrics (name with labels, e.g. `x_total{layer="ip_rate"}`); -1 if
  // absent.
  double metric(const std::string& sample);

 private:
  std::unique_ptr<app::FlashsaleService> service_;
};

// Fresh database for one test (on the shared PostgreSQL).
std::string gw_database();

}  // namespace fs::test
