#include "http/router.hpp"

#include <algorithm>
#include <boost/container/small_vector.hpp>
#include <span>
#include <string_view>

namespace fs::http {
namespace {

// A request path's segments; on the stack for every route we serve (no allocation per request).
using PathSegments = boost::container::small_vector<std::string_view, 8>;

// "/a/b/" → {"a", "b", ""}: a trailing slash is a distinct (empty) segment, so "/v1/x/" does
// not silently match "/v1/x".
template <class Out>
void split_path(std::string_view path, Out& out) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  for (;;) {
    auto slash = path.find('/');
    out.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
}

bool is_param(std::string_view segment) {
  return segment.size() >= 3 && segment.front() == '{' && segment.back() == '}';
}

// Parameters match any non-empty segment; literals match exactly.
bool segments_match(const std::vector<std::string>& pattern,
                    std::span<const std::string_view> path) {
  if (pattern.size() != path.size()) return false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (is_param(pattern[i])) {
      if (path[i].empty()) return false;
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler) {
  Route route{std::move(method), std::move(pattern), {}, std::move(handler)};
  split_path(route.pattern, route.segments);
  routes_.push_back(std::move(route));
}

const Router::Route* Router::match(Request& request, bool& path_matched) const {
  path_matched = false;
  PathSegments path;
  split_path(request.path, path);
  for (const auto& route : routes_) {
    if (!segments_match(route.segments, path)) continue;
    path_matched = true;
    if (route.method != request.method) continue;
    request.route = route.pattern;
    request.path_params.clear();
    for (std::size_t i = 0; i < route.segments.size(); ++i) {
      const auto& seg = route.segments[i];
      if (is_param(seg))
        request.path_params.emplace_back(seg.substr(1, seg.size() - 2), std::string(path[i]));
    }
    return &route;
  }
  return nullptr;
}

// Not a coroutine when a route matches: it hands back the handler's own awaitable, so no
// dispatch frame (~800 bytes) stays alive under every request a handler parks (admission queue).
boost::asio::awaitable<Response> Router::dispatch(Request& request) const {
  bool path_matched = false;
  request.route = {};
  if (const Route* route = match(request, path_matched)) return route->handler(request);
  return unmatched(request, path_matched);
}

boost::asio::awaitable<Response> Router::unmatched(Request& request, bool path_matched) const {
  if (!path_matched) co_return Response::error(404, "not_found", "no such endpoint");

  PathSegments path;
  split_path(request.path, path);
  std::vector<std::string_view> methods;
  for (const auto& route : routes_) {
    if (segments_match(route.segments, path) &&
        std::find(methods.begin(), methods.end(), route.method) == methods.end())
      methods.push_back(route.method);
  }
  std::string allow;
  for (auto m : methods) {
    if (!allow.empty()) allow += ", ";
    allow += m;
  }
  Response response =
      Response::error(405, "method_not_allowed", "method not allowed for this endpoint");
  response.with_header("allow", std::move(allow));
  co_return response;
}

// A route whose path matches, preferring the one with the request's method, so that 405s are
// labelled by their endpoint too; label cardinality stays bounded by the route table.
std::string_view Router::route_of(const Request& request) const {
  if (!request.route.empty()) return request.route;  // dispatch matched it
  PathSegments path;
  split_path(request.path, path);
  const Route* path_only = nullptr;
  for (const auto& route : routes_) {
    if (!segments_match(route.segments, path)) continue;
    if (route.method == request.method) return route.pattern;
    if (!path_only) path_only = &route;
  }
  return path_only ? std::string_view(path_only->pattern) : std::string_view("unmatched");
}

}  // namespace fs::http
