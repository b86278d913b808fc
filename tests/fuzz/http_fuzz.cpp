// The HTTP server (http/server.cpp: request parsing, limits, keep-alive) on hostile bytes from
// a real socket: one server runs for the whole process; each input is sent on a new loopback
// connection, which is then half-closed, and everything the server writes back is read.
// Properties: the server only ever answers well-formed HTTP/1.x responses with one of the
// statuses it documents for bad input (400, 413, 431) or the handler's 200, never a 500; what
// reaches the handler is a well-formed request within the limits; and after every input a
// normal request on a fresh connection is still answered (the server stays up).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/awaitable.hpp>
#include <cctype>
#include <memory>
#include <string>

#include "fuzz_check.hpp"
#include "http/server.hpp"
#include "runtime/io_runtime.hpp"

namespace {

constexpr std::size_t kBodyLimit = 1024;

boost::asio::awaitable<fs::http::Response> echo(fs::http::Request& req) {
  FUZZ_CHECK(!req.method.empty());
  for (char c : req.method)  // a token (RFC 9110 tchar)
    FUZZ_CHECK(std::isalnum(static_cast<unsigned char>(c)) ||
               std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos);
  FUZZ_CHECK(req.path.starts_with('/') || req.path == "*" || !req.target.starts_with('/'));
  FUZZ_CHECK(req.body.size() <= kBodyLimit);
  for (const auto& h : req.headers)
    for (char c : h.name) FUZZ_CHECK(!std::isupper(static_cast<unsigned char>(c)));
  co_return fs::http::Response::json(200, "{\"ok\":true}");
}

struct Fixture {
  Fixture() : runtime(1) {
    fs::http::ServerConfig config;
    config.body_limit = kBodyLimit;
    config.header_limit = 2048;
    config.header_timeout = std::chrono::milliseconds{2000};
    server = std::make_unique<fs::http::Server>(runtime, config, echo);
    server->start();
    runtime.start();
  }
  fs::IoRuntime runtime;
  std::unique_ptr<fs::http::Server> server;
};

// Sends `bytes`, half-closes, returns everything read until the server closes (or 3 s pass).
std::string exchange(std::uint16_t port, std::string_view bytes) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  FUZZ_CHECK(fd >= 0);
  timeval tv{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  FUZZ_CHECK(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer and close before reading everything
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[4096];
  while (true) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

// Every response in `stream` (several when requests were pipelined) has an allowed status.
void check_responses(std::string_view stream) {
  std::size_t at = 0;
  while ((at = stream.find("HTTP/1.", at)) != std::string_view::npos) {
    FUZZ_CHECK(at + 12 <= stream.size());
    const std::string_view code = stream.substr(at + 9, 3);
    FUZZ_CHECK(code == "200" || code == "400" || code == "413" || code == "431");
    at += 12;
  }
  if (!stream.empty())
    FUZZ_CHECK(stream.starts_with("HTTP/1.1 ") || stream.starts_with("HTTP/1.0 "));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Fixture fixture;
  const std::uint16_t port = fixture.server->port();
  check_responses(exchange(port, fs::fuzz::as_text(data, size)));
  const std::string ok = exchange(port, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  FUZZ_CHECK(ok.starts_with("HTTP/1.1 200 "));
  return 0;
}
