#pragma once
// GET /v1/events: the shopper's notifications as Server-Sent Events (api.md). Each event is
// "id: <feed entry id>\nevent: <type>\ndata: <JSON>\n\n"; a client reconnecting with
// Last-Event-ID (header, or ?last_event_id= for clients that cannot set headers) resumes right
// after it, on any instance. Without it the stream starts with the next notification
// (?replay=1: with everything still retained). Idle streams get a comment every keepalive.
#include <chrono>
#include <string>

#include "http/message.hpp"

namespace fs::notifications {
class NotificationFeed;
}
namespace fs::metrics {
class NotificationMetrics;
}

namespace fs::api {

struct SseConfig {
  std::chrono::milliseconds poll_interval{100};  // feed polls while idle (non-blocking XRANGE)
  std::chrono::milliseconds keepalive{15'000};
  std::size_t batch = 100;
};

// The streaming response for `user_id`; `after` is a validated stream id or empty; `replay`
// starts from the oldest retained notification when `after` is empty. `feed` and `metrics`
// (may be null) must outlive the response (they are per-worker services).
http::Response events_stream(notifications::NotificationFeed& feed, std::string user_id,
                             std::string after, bool replay, SseConfig config,
                             metrics::NotificationMetrics* metrics);

// The raw value of `name` in a query string ("a=1&b=2"), or empty (no percent-decoding: enough
// for event ids and flags).
std::string_view query_value(std::string_view query, std::string_view name);

// "id: ...\nevent: ...\ndata: ...\n\n" (data lines split on newlines).
std::string sse_frame(std::string_view id, std::string_view type, std::string_view data);

}  // namespace fs::api
