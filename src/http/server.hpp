#pragma once
// HTTP/1.1 server on Boost.Beast with C++20 coroutines: one acceptor per io_context
// (SO_REUSEPORT), one coroutine per connection, keep-alive, a body limit, header/idle
// timeouts and a graceful shutdown that drains in-flight requests.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "http/message.hpp"

namespace fs {
class IoRuntime;
}

namespace fs::http {

// Behaviour worth knowing (see server.cpp for the why):
// - A new connection must deliver its whole first request within header_timeout of accept; a
//   kept-alive one may idle for idle_timeout, then has header_timeout from its first byte.
//   Every response write has write_timeout. Timed-out connections are closed without an answer.
// - Errors answered by the server itself, as api.md JSON, always with Connection: close:
//   400 invalid_request (malformed HTTP or target), 413 payload_too_large (body over
//   body_limit, decided from Content-Length before reading the body), 431 invalid_request
//   (header block over header_limit), 500 internal (exception escaped the handler; the
//   connection stays open for this one), 503 overloaded (over max_connections, then closed).
// - Response::stream: HTTP/1.1 clients get Transfer-Encoding: chunked with a terminating
//   chunk when stream() returns; HTTP/1.0 clients get a close-delimited body. Both carry
//   Cache-Control: no-cache and Connection: close. write() returns false once the peer closed
//   or reset, a write timed out, or stop() began.
// - Request::path is percent-decoded, Request::query is raw, header names are lowercase.
// - RequestObserver::on_request runs after the response was written; `elapsed` counts from
//   the end of reading the request.
// - A handler may answer with Response::parking (see Parking in message.hpp): the connection
//   then keeps no coroutine until the parking object wakes it. The client leaving abandons it at
//   once; stop() lets it finish within the grace period, then abandons and closes it.
struct ServerConfig {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;                            // 0: pick a free port (see Server::port())
  std::size_t body_limit = 16 * 1024;                // larger bodies → 413 payload_too_large
  std::size_t header_limit = 8 * 1024;               // larger header blocks → 431 / 400
  std::chrono::milliseconds header_timeout{10'000};  // whole request must arrive within this
  std::chrono::milliseconds idle_timeout{30'000};    // keep-alive idle limit
  std::chrono::milliseconds write_timeout{10'000};
  std::size_t max_connections = 200'000;
};

// Observes each finished request (for metrics and access logs); called on the worker thread.
struct RequestObserver {
  virtual ~RequestObserver() = default;
  virtual void on_request(const Request& req, const Response& res,
                          std::chrono::nanoseconds elapsed) = 0;
  virtual void on_connection_change(int delta) { (void)delta; }
  // A connection refused because max_connections was reached (answered 503 and closed).
  virtual void on_connection_rejected() {}
};

class Server {
 public:
  Server(IoRuntime& runtime, ServerConfig config, Handler handler,
         RequestObserver* observer = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting on every io_context. Throws on bind failure (start-up error).
  void start();
  std::uint16_t port() const;

  // Stops accepting, lets in-flight requests finish (up to `grace`), closes idle keep-alive
  // connections, then force-closes the rest. Blocks the calling (non-I/O) thread until done.
  // Idempotent; the destructor calls it. The IoRuntime must be running (or aborted) and must
  // outlive the Server.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds{5000});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fs::http
