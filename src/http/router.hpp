#pragma once
// Routes "METHOD /v1/reservations/{id}" patterns to handlers. Unknown path → 404 not_found,
// known path with another method → 405 (with Allow).
#include <string>
#include <vector>

#include "http/message.hpp"

namespace fs::http {

class Router {
 public:
  // Before the first dispatch only: requests keep views of the table (Request::route).
  void add(std::string method, std::string pattern, Handler handler);
  boost::asio::awaitable<Response> dispatch(Request& request) const;
  // The matched route pattern for metrics labels ("unmatched" when none).
  std::string_view route_of(const Request& request) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
  };
  const Route* match(Request& request, bool& path_matched) const;
  boost::asio::awaitable<Response> unmatched(Request& request, bool path_matched) const;
  std::vector<Route> routes_;
};

}  // namespace fs::http
