#include "http/router.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>

namespace fs::http {
namespace {

Response run_dispatch(const Router& router, Request& request) {
  boost::asio::io_context ctx;
  std::optional<Response> out;
  boost::asio::co_spawn(ctx, router.dispatch(request), [&](std::exception_ptr e, Response r) {
    if (e) std::rethrow_exception(e);
    out = std::move(r);
  });
  ctx.run();
  return std::move(out).value();
}

Handler tagged(std::string tag) {
  return [tag](Request& req) -> boost::asio::awaitable<Response> {
    std::string body = tag;
    for (const auto& [k, v] : req.path_params) body += "|" + k + "=" + v;
    co_return Response::json(200, body);
  };
}

Request make_request(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router.add("POST", "/v1/reservations", tagged("create"));
    router.add("GET", "/v1/reservations/{id}", tagged("get"));
    router.add("POST", "/v1/reservations/{id}/pay", tagged("pay"));
    router.add("PUT", "/v1/admin/products/{product_id}", tagged("put_product"));
    router.add("GET", "/v1/admin/products/{product_id}/stats", tagged("stats"));
    router.add("GET", "/healthz", tagged("health"));
  }
  Router router;
};

TEST_F(RouterTest, MatchesLiteralRoute) {
  auto req = make_request("POST", "/v1/reservations");
  auto res = run_dispatch(router, req);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "create");
}

TEST_F(RouterTest, FillsPathParameters) {
  auto req = make_request("POST", "/v1/reservations/r-42/pay");
  auto res = run_dispatch(router, req);
  EXPECT_EQ(res.body, "pay|id=r-42");
  EXPECT_EQ(req.param("id"), "r-42");
  EXPECT_EQ(req.param("missing"), "");
}

TEST_F(RouterTest, ParamDoesNotSpanSegments) {
  auto req = make_request("GET", "/v1/reservations/a/b");
  EXPECT_EQ(run_dispatch(router, req).status, 404);
}

TEST_F(RouterTest, ExactSegmentCountAndTrailingSlash) {
  auto with_slash = make_request("GET", "/v1/reservations/abc/");
  EXPECT_EQ(run_dispatch(router, with_slash).status, 404);
  auto empty_param = make_request("GET", "/v1/reservations/");
  EXPECT_EQ(run_dispatch(router, empty_param).status, 404);
  auto prefix = make_request("GET", "/v1/reservation/abc");
  EXPECT_EQ(run_dispatch(router, prefix).status, 404);
}

TEST_F(RouterTest, UnknownPathIs404WithErrorBody) {
  auto req = make_request("GET", "/nope");
  auto res = run_dispatch(router, req);
  EXPECT_EQ(res.status, 404);
  EXPECT_NE(res.body.find(R"("code":"not_found")"), std::string::npos) << res.body;
  EXPECT_EQ(res.content_type, "application/json");
}

TEST_F(RouterTest, KnownPathWrongMethodIs405WithAllow) {
  auto req = make_request("DELETE", "/v1/reservations/r1");
  auto res = run_dispatch(router, req);
  EXPECT_EQ(res.status, 405);
  EXPECT_NE(res.body.find(R"("code":"method_not_allowed")"), std::string::npos) << res.body;
  ASSERT_EQ(res.headers.size(), 1u);
  EXPECT_EQ(res.headers[0].name, "allow");
  EXPECT_EQ(res.headers[0].value, "GET");
}

TEST_F(RouterTest, AllowListsEveryMethodOfThePath) {
  router.add("DELETE", "/healthz", tagged("x"));
  auto req = make_request("POST", "/healthz");
  auto res = run_dispatch(router, req);
  EXPECT_EQ(res.status, 405);
  ASSERT_EQ(res.headers.size(), 1u);
  EXPECT_EQ(res.headers[0].value, "GET, DELETE");
}

TEST_F(RouterTest, RouteOfReturnsPatternForMetrics) {
  EXPECT_EQ(router.route_of(make_request("GET", "/v1/reservations/xyz")), "/v1/reservations/{id}");
  EXPECT_EQ(router.route_of(make_request("POST", "/v1/reservations/xyz/pay")),
            "/v1/reservations/{id}/pay");
  EXPECT_EQ(router.route_of(make_request("GET", "/v1/admin/products/p/stats")),
            "/v1/admin/products/{product_id}/stats");
  EXPECT_EQ(router.route_of(make_request("GET", "/unknown")), "unmatched");
  // A 405 is still labelled by its endpoint.
  EXPECT_EQ(router.route_of(make_request("PATCH", "/healthz")), "/healthz");
}

// dispatch records the route it matched, and route_of answers from it; a request that
// dispatch did not match (405, 404) is labelled as before, never with a previous request's route
// when the server reuses the Request for the next one on its connection.
TEST_F(RouterTest, RouteOfAnswersFromTheDispatchedRoute) {
  auto req = make_request("GET", "/v1/reservations/abc");
  EXPECT_EQ(run_dispatch(router, req).status, 200);
  EXPECT_EQ(req.route, "/v1/reservations/{id}");
  EXPECT_EQ(router.route_of(req), "/v1/reservations/{id}");
  req.method = "DELETE";  // the next request on the connection: a 405 on the same path
  EXPECT_EQ(run_dispatch(router, req).status, 405);
  EXPECT_TRUE(req.route.empty());
  EXPECT_EQ(router.route_of(req), "/v1/reservations/{id}");
  req.method = "GET";
  req.path = "/nowhere";
  EXPECT_EQ(run_dispatch(router, req).status, 404);
  EXPECT_EQ(router.route_of(req), "unmatched");
}

TEST_F(RouterTest, RootPath) {
  router.add("GET", "/", tagged("root"));
  auto req = make_request("GET", "/");
  EXPECT_EQ(run_dispatch(router, req).body, "root");
}

}  // namespace
}  // namespace fs::http
