#pragma once
// Shared helpers for the HTTP integration tests: a server on IoRuntime(2), a blocking POSIX
// socket for hostile clients, and a way to run a client coroutine to completion.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "http/client.hpp"
#include "http/server.hpp"
#include "runtime/io_runtime.hpp"

namespace fs::http::testing {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline long long ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// Polls `condition` until it holds or `timeout` passes; the result is the condition's value.
inline bool wait_for(const std::function<bool()>& condition,
                     std::chrono::milliseconds timeout = 5000ms) {
  const auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

struct CountingObserver : RequestObserver {
  std::atomic<int> requests{0};
  std::atomic<int> connections_opened{0};
  std::atomic<int> connections_open{0};
  std::atomic<int> rejected{0};
  std::mutex mutex;
  std::vector<int> statuses;
  std::vector<std::chrono::nanoseconds> elapsed;

  void on_request(const Request&, const Response& res, std::chrono::nanoseconds took) override {
    std::lock_guard lock(mutex);
    statuses.push_back(res.status);
    elapsed.push_back(took);
    ++requests;
  }
  void on_connection_change(int delta) override {
    if (delta > 0) ++connections_opened;
    connections_open += delta;
  }
  void on_connection_rejected() override { ++rejected; }
};

// Owns the runtime and the server; the runtime outlives the server as Server requires.
class TestServer {
 public:
  TestServer(ServerConfig config, Handler handler, RequestObserver* observer = nullptr)
      : runtime_(2) {
    runtime_.start();
    server_ = std::make_unique<Server>(runtime_, std::move(config), std::move(handler), observer);
    server_->start();
  }
  ~TestServer() {
    server_->stop();
    server_.reset();
    runtime_.stop();
  }
  Server& server() { return *server_; }
  std::uint16_t port() const { return server_->port(); }

 private:
  IoRuntime runtime_;
  std::unique_ptr<Server> server_;
};

// Runs the coroutine made by `make(executor)` on a private io_context on this thread.
template <class F>
auto run_sync(F&& make) {
  boost::asio::io_context ctx;
  using Awaitable = decltype(make(ctx.get_executor()));
  using T = typename Awaitable::value_type;
  std::optional<T> out;
  std::exception_ptr error;
  boost::asio::co_spawn(
      ctx,
      [&]() -> boost::asio::awaitable<void> { out.emplace(co_await make(ctx.get_executor())); },
      [&](std::exception_ptr e) { error = e; });
  ctx.run();
  if (error) std::rethrow_exception(error);
  return std::move(*out);
}

inline Result<ClientResponse> send_once(std::uint16_t port, ClientRequest request,
                                        std::chrono::milliseconds timeout = 5000ms) {
  return run_sync(
      [&](boost::asio::any_io_executor ex) -> boost::asio::awaitable<Result<ClientResponse>> {
        auto conn = make_connection(ex, ConnectionConfig{"127.0.0.1", port, timeout});
        co_return co_await conn->send(std::move(request));
      });
}

// A blocking loopback client for hostile or byte-exact cases.
class RawSocket {
 public:
  explicit RawSocket(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      throw std::runtime_error(std::string("connect failed: ") + std::strerror(errno));
    }
  }
  ~RawSocket() { close(); }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  static bool can_connect(std::uint16_t port) {
    try {
      RawSocket s(port);
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }

  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  enum class ReadEnd { predicate, closed, deadline };

  // Appends incoming bytes to `out` until `done(out)`, EOF/reset, or the timeout.
  ReadEnd read_until(std::string& out, const std::function<bool(const std::string&)>& done,
                     std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    char buf[16384];
    while (!done(out)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return ReadEnd::deadline;
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r == 0) return ReadEnd::deadline;
      if (r < 0) continue;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return ReadEnd::closed;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return ReadEnd::predicate;
  }

  // Reads one complete Content-Length-framed response.
  std::string read_response(std::chrono::milliseconds timeout = 3000ms) {
    std::string out;
    read_until(out, &response_complete, timeout);
    return out;
  }

  ReadEnd wait_closed(std::chrono::milliseconds timeout) {
    std::string ignored;
    return read_until(
        ignored, [](const std::string&) { return false; }, timeout);
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  static bool response_complete(const std::string& s) {
    auto end = s.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    std::string head = s.substr(0, end);
    for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto cl = head.find("content-length:");
    if (cl == std::string::npos) return true;
    std::size_t len = std::stoul(head.substr(cl + 15));
    return s.size() >= end + 4 + len;
  }

 private:
  int fd_ = -1;
};

inline int status_of(const std::string& raw) {
  if (raw.size() < 12 || raw.compare(0, 5, "HTTP/") != 0) return 0;
  return std::stoi(raw.substr(9, 3));
}

inline std::string body_of(const std::string& raw) {
  auto end = raw.find("\r\n\r\n");
  return end == std::string::npos ? std::string() : raw.substr(end + 4);
}

inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace fs::http::testing
