#pragma once
// HTTP request/response as plain values, so handler code never includes Beast.
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fs::http {

struct Header {
  std::string name;  // lowercase in requests
  std::string value;
};

// Lets a handler that parks a request (e.g. in an admission queue) learn at once that the client
// closed or reset its connection. Implemented by the server; only costs anything when used.
class DisconnectWatch {
 public:
  virtual ~DisconnectWatch() = default;
  // `on_gone` runs once, on the connection's thread, if the client goes away before the handler
  // returns; a second call replaces the callback. Never runs after the handler returned.
  virtual void notify_on_disconnect(std::function<void()> on_gone) = 0;
};

struct Request;
struct Response;

// Lets a handler park its request for a long wait (the admission queue) without keeping any
// coroutine frame alive, its own or the server's: it answers with a Response whose `parking` is
// set (only when Request::parkable). The server then keeps only the connection, the Request and
// this object, watches the socket for the client going away, and once woken calls resume() for
// the real response, which it sends as if the handler had returned it. A handler should drop
// from the Request what resume() will not need (the parked request is held as it is).
// All calls on the connection's thread.
class Parking {
 public:
  class Waker {
   public:
    // The wait is over: the server calls resume() soon (never from within wake()).
    virtual void wake() = 0;

   protected:
    ~Waker() = default;
  };
  virtual ~Parking() = default;
  // The connection is parked; `waker` is valid until resume() or abandon(). May wake at once.
  virtual void park(Waker& waker) = 0;
  // The client closed or reset the connection, or the server is force-stopping: stop waiting now
  // (leave the queue) and never wake. resume() follows (its answer most likely goes nowhere).
  virtual void abandon() = 0;
  // After wake() or abandon(): the response.
  virtual boost::asio::awaitable<Response> resume(Request& req) = 0;
};

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target
  std::string path;    // percent-decoded path, no query
  std::string query;   // raw query string (without '?')
  std::vector<Header> headers;
  std::string body;
  std::string remote_ip;                  // socket peer address
  std::size_t worker = 0;                 // index of the io_context thread serving this request
  DisconnectWatch* disconnect = nullptr;  // set by the server while the handler runs
  bool parkable = false;                  // the server accepts Response::parking
  std::vector<std::pair<std::string, std::string>> path_params;  // filled by Router
  // The pattern of the route Router::dispatch matched (it views the Router's table), so that
  // Router::route_of, which labels the request's metrics, does not match the path again. Empty
  // until dispatched; the server clears it for every request of a connection.
  std::string_view route;

  // Value of the first header with this (lowercase) name, or empty.
  std::string_view header(std::string_view lower_name) const;
  bool has_header(std::string_view lower_name) const;
  std::string_view param(std::string_view name) const;  // path parameter
};

// Server-sent streaming: write() returns false once the client is gone.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  virtual boost::asio::awaitable<bool> write(std::string chunk) = 0;
};

struct Response {
  int status = 200;
  // A literal (static storage): every response has one, and "application/json" is one byte too
  // long for std::string's inline buffer.
  std::string_view content_type = "application/json";
  std::vector<Header> headers;
  std::string body;
  // When set, the server sends the status and headers, then runs stream() to write the body
  // incrementally (e.g. text/event-stream); the connection closes when it returns.
  std::function<boost::asio::awaitable<void>(StreamWriter&)> stream;
  // When set (only if Request::parkable), the request is parked: see Parking.
  std::shared_ptr<Parking> parking;

  static Response json(int status, std::string body);
  // {"error":{"code":..., "message":...}} as api.md requires.
  static Response error(int status, std::string_view code, std::string_view message);
  Response& with_header(std::string name, std::string value);
};

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

}  // namespace fs::http
