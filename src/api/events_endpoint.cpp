#include "api/events_endpoint.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "metrics/notification_metrics.hpp"
#include "notifications/notification_feed.hpp"

namespace fs::api {
namespace asio = boost::asio;

namespace {

asio::awaitable<void> sse_loop(notifications::NotificationFeed* feed, std::string user_id,
                               std::string after, bool replay, SseConfig config,
                               metrics::NotificationMetrics* metrics, http::StreamWriter& w) {
  if (metrics) metrics->sse_clients(1);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  // Where a fresh client starts: after the newest retained notification.
  while (after.empty() && !replay) {
    auto last = co_await feed->last_id(user_id);
    if (last) {
      after = *last;
      break;
    }
    const bool still_open = co_await w.write(": backend unavailable, retrying\n\n");
    if (!still_open) break;
    timer.expires_after(config.poll_interval * 10);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  bool open = co_await w.write("retry: 2000\n\n");
  auto last_write = std::chrono::steady_clock::now();
  while (open) {
    auto batch = co_await feed->read(user_id, after, config.batch);
    if (batch) {
      std::string out;
      for (const auto& n : *batch) out += sse_frame(n.id, n.type, n.data);
      if (!batch->empty()) {
        open = co_await w.write(std::move(out));
        after = batch->back().id;
        last_write = std::chrono::steady_clock::now();
        if (batch->size() == config.batch) continue;  // more waiting
      }
    }
    if (!open) break;
    if (std::chrono::steady_clock::now() - last_write >= config.keepalive) {
      open = co_await w.write(": keepalive\n\n");
      last_write = std::chrono::steady_clock::now();
    } else {
      open = co_await w.write("");  // false once the client left or the server stops
    }
    if (!open) break;
    timer.expires_after(config.poll_interval);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (metrics) metrics->sse_clients(-1);
}

}  // namespace

std::string_view query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto part = query.substr(0, amp);
    auto eq = part.find('=');
    if (part.substr(0, eq) == name) return eq == std::string_view::npos ? "" : part.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

std::string sse_frame(std::string_view id, std::string_view type, std::string_view data) {
  std::string f;
  f.reserve(data.size() + type.size() + id.size() + 32);
  f += "id: ";
  f += id;
  f += "\nevent: ";
  f += type;
  f += '\n';
  std::size_t start = 0;
  for (;;) {
    auto nl = data.find('\n', start);
    f += "data: ";
    f += data.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    f += '\n';
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  f += '\n';
  return f;
}

http::Response events_stream(notifications::NotificationFeed& feed, std::string user_id,
                             std::string after, bool replay, SseConfig config,
                             metrics::NotificationMetrics* metrics) {
  http::Response res;
  res.status = 200;
  res.content_type = "text/event-stream";
  res.headers.push_back({"X-Accel-Buffering", "no"});
  auto* f = &feed;
  // A plain lambda returning the coroutine: the loop's state lives in sse_loop's frame, taken by
  // value, not in the lambda's captures.
  res.stream = [f, user_id = std::move(user_id), after = std::move(after), replay, config,
                metrics](http::StreamWriter& w) {
    return sse_loop(f, user_id, after, replay, config, metrics, w);
  };
  return res;
}

}  // namespace fs::api
