// make_connection against our own server: reconnect, timeouts, error mapping.
#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http_test_support.hpp"

namespace fs::http::testing {
namespace {

namespace asio = boost::asio;

asio::awaitable<Response> client_test_handler(Request& req) {
  if (req.path == "/slow") {
    asio::steady_timer timer(co_await asio::this_coro::executor, 500ms);
    co_await timer.async_wait(asio::use_awaitable);
  }
  Response res = Response::json(200, req.method + " " + req.target + " " + req.body);
  res.with_header("X-Custom-Header", "Mixed");
  if (req.path == "/close") res.with_header("Connection", "close");
  co_return res;
}

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerConfig config;
    config.idle_timeout = 200ms;
    server = std::make_unique<TestServer>(config, client_test_handler, &observer);
  }
  CountingObserver observer;
  std::unique_ptr<TestServer> server;
};

TEST_F(HttpClientTest, LowercasesResponseHeadersAndSendsBody) {
  auto res = send_once(server->port(),
                       ClientRequest{"PUT", "/x?y=1", {{"Content-Type", "text/plain"}}, "payload"});
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "PUT /x?y=1 payload");
  EXPECT_EQ(res->header("x-custom-header"), "Mixed");
  for (const auto& h : res->headers) EXPECT_EQ(h.name, lower(h.name));
}

TEST_F(HttpClientTest, ReconnectsOnceWhenKeptAliveSocketWasClosed) {
  const auto port = server->port();
  auto statuses = run_sync([&](asio::any_io_executor ex) -> asio::awaitable<std::vector<int>> {
    auto conn = make_connection(ex, ConnectionConfig{"127.0.0.1", port});
    std::vector<int> out;
    auto first = co_await conn->send(ClientRequest{"GET", "/a", {}, {}});
    out.push_back(first ? first->status : -1);
    // Let the server's 200 ms idle timeout close the kept-alive socket under us.
    asio::steady_timer timer(ex, 600ms);
    co_await timer.async_wait(asio::use_awaitable);
    auto second = co_await conn->send(ClientRequest{"GET", "/b", {}, {}});
    out.push_back(second ? second->status : -1);
    co_return out;
  });
  EXPECT_EQ(statuses, (std::vector<int>{200, 200}));
  EXPECT_EQ(observer.connections_opened.load(), 2);
}

TEST_F(HttpClientTest, ServerRequestedCloseIsHonoured) {
  const auto port = server->port();
  auto statuses = run_sync([&](asio::any_io_executor ex) -> asio::awaitable<std::vector<int>> {
    auto conn = make_connection(ex, ConnectionConfig{"127.0.0.1", port});
    std::vector<int> out;
    for (const char* target : {"/close", "/after"}) {
      auto res = co_await conn->send(ClientRequest{"GET", target, {}, {}});
      out.push_back(res ? res->status : -1);
    }
    co_return out;
  });
  EXPECT_EQ(statuses, (std::vector<int>{200, 200}));
  EXPECT_EQ(observer.connections_opened.load(), 2);
}

TEST_F(HttpClientTest, SlowServerIsTimeout) {
  auto res = send_once(server->port(), ClientRequest{"GET", "/slow", {}, {}}, 100ms);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.code(), Errc::timeout);
}

TEST_F(HttpClientTest, RefusedConnectionIsUnavailable) {
  // Bind-and-close leaves a port nobody listens on.
  std::uint16_t port;
  {
    IoRuntime rt(1);
    Server probe(rt, ServerConfig{}, client_test_handler);
    probe.start();
    port = probe.port();
    rt.start();
    probe.stop();
    rt.stop();
  }
  auto res = send_once(port, ClientRequest{"GET", "/", {}, {}});
  ASSERT_FALSE(res);
  EXPECT_EQ(res.code(), Errc::unavailable);
}

}  // namespace
}  // namespace fs::http::testing
