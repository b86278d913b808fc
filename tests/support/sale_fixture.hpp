#pragma once
// End-to-end harness: the whole service in-process (FlashsaleService on a free port) over a
// real redis-server and PostgreSQL, and a concurrent HTTP client that races real connections.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/service.hpp"
#include "http/client.hpp"
#include "stack/local_servers.hpp"

namespace fs::test {

inline constexpr const char* kSecret = "integration-test-secret";

// An HS256 token for `sub` valid for an hour (role "admin" for admin endpoints).
std::string mint_token(const std::string& sub, const std::string& role, const char* secret,
                       std::optional<std::int64_t> acct_created = std::nullopt);
std::string user_token(const std::string& sub);
std::string admin_token();

struct Call {
  std::string method = "POST";
  std::string target = "/v1/reservations";
  std::string token;  // empty: no Authorization header
  std::string body;
  std::vector<http::Header> headers;
};

// Sends every call over `connections` concurrent keep-alive connections (two client threads) and
// returns the responses in call order (status 0 = no answer).
std::vector<http::ClientResponse> race(std::uint16_t port, const std::vector<Call>& calls,
                                       std::size_t connections,
                                       std::chrono::seconds timeout = std::chrono::seconds{30});
http::ClientResponse send_one(std::uint16_t port, const Call& call);

std::string reservation_body(const std::string& product_id, int quantity = 1);
std::string product_body(std::int64_t stock, int shards = 10, int per_user_limit = 1,
                         const std::string& extra = "");

// A running service; `tune` adjusts the config before start.
class ServiceUnderTest {
 public:
  ServiceUnderTest(std::uint16_t redis_port, const std::string& pg_conninfo,
                   const std::function<void(app::ServiceConfig&)>& tune = {});
  ~ServiceUnderTest();
  std::uint16_t port() const { return service_->port(); }
  const std::string& pg_conninfo() const { return pg_conninfo_; }
  // Runs SQL against the service's database (psql); returns its unaligned output.
  std::string sql(const std::string& statement);
  app::FlashsaleService& service() { return *service_; }

  // PUT the product; asserts 200.
  void put_product(const std::string& id, std::int64_t stock, int shards = 10,
                   int per_user_limit = 1);
  struct Stats {
    std::int64_t stock_total = -1, available = -1, pending = -1, paying = -1, paid = -1,
                 failed = -1, expired = -1;
    std::vector<std::int64_t> shards;
  };
  Stats stats(const std::string& id);

 private:
  std::string pg_conninfo_;
  std::unique_ptr<app::FlashsaleService> service_;
};

// The service every test of this binary shares (over shared_redis / a fresh database).
ServiceUnderTest& shared_service();

}  // namespace fs::test
