#pragma once
// Async HTTP/1.1 client connection with keep-alive (used by the crowd simulator, the payment
// client and the tests). Bound to one executor; one request at a time per connection.
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "http/message.hpp"

namespace fs::http {

struct ClientResponse {
  int status = 0;
  std::vector<Header> headers;  // names lowercase
  std::string body;
  std::string_view header(std::string_view lower_name) const;
};

// Not an aggregate on purpose: GCC 12 miscompiles an aggregate temporary written inside a
// co_await expression (`co_await conn->send(ClientRequest{...})` frees a dangling SSO
// pointer); going through a constructor avoids that bug.
struct ClientRequest {
  ClientRequest() = default;
  ClientRequest(std::string method_, std::string target_, std::vector<Header> headers_ = {},
                std::string body_ = {})
      : method(std::move(method_)),
        target(std::move(target_)),
        headers(std::move(headers_)),
        body(std::move(body_)) {}

  std::string method = "GET";
  std::string target = "/";
  std::vector<Header> headers;
  std::string body;
};

class Connection {
 public:
  virtual ~Connection() = default;
  // Connects on first use and reconnects once if the kept-alive socket was closed by the server.
  // Errors: Errc::unavailable (connect/IO failure), Errc::timeout.
  virtual boost::asio::awaitable<Result<ClientResponse>> send(ClientRequest request) = 0;
  virtual void close() = 0;
};

struct ConnectionConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 80;
  std::chrono::milliseconds timeout{10'000};
};

std::unique_ptr<Connection> make_connection(boost::asio::any_io_executor executor,
                                            ConnectionConfig config);

}  // namespace fs::http
