#include "http/server.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <cassert>
#include <cerrno>
#include <condition_variable>
#include <limits>
#include <list>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "common/append_decimal.hpp"
#include "common/ascii.hpp"
#include "runtime/io_runtime.hpp"

namespace fs::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kFirstReadSize = 4096;
// After an error response the client may still be sending its (oversized) body. Closing with
// unread data would make the kernel send a reset, and the client could lose our answer, so we
// half-close and discard input for a bounded time first (nginx's "lingering close").
constexpr std::chrono::milliseconds kLingerTime{1000};
constexpr std::size_t kLingerBytes = 4 * 1024 * 1024;
// accept() failing with EMFILE etc. would otherwise spin the I/O thread.
constexpr std::chrono::milliseconds kAcceptRetryDelay{50};

using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

enum class Phase {
  awaiting_request,  // no byte of the next request yet: closed at once by stop()
  busy,              // reading, handling or answering a request: allowed to finish
  streaming,         // inside Response::stream: stop() makes write() return false
};

struct Parked;

struct Session {
  explicit Session(tcp::socket socket) : stream(std::move(socket)) {}
  ~Session();
  // The request path reads and writes the raw socket under this one deadline, which the shard's
  // sweep enforces (it closes the socket, as Beast's timeout did): arming a Beast timer per
  // operation and cancelling it afterwards cost a timer-queue insertion, a cancellation and a
  // completion per read and per write. The rare paths (linger, streaming) use Beast's timers.
  beast::tcp_stream stream;
  Clock::time_point deadline = Clock::time_point::max();  // max: no operation under a deadline
  bool timed_out = false;

  void arm(Clock::time_point d) { deadline = d; }
  // After an operation: no deadline while the handler runs; a sweep's close reads as a timeout.
  beast::error_code disarm(const beast::error_code& ec) {
    deadline = Clock::time_point::max();
    if (timed_out) return beast::error::timeout;
    return ec;
  }
  Phase phase = Phase::awaiting_request;
  bool stop_requested = false;
  bool peer_gone = false;
  asio::cancellation_signal cancel;  // emitted when the grace period is over
  std::list<Session*>::iterator registration;
  // Set while the handler's Parking holds the request, and until the resumed coroutine took it
  // back: the connection then has no coroutine at all.
  std::unique_ptr<Parked> parked;
};

// Everything one io_context owns. `sessions` is only touched on that context's thread.
struct Shard {
  Shard(std::size_t i, asio::io_context& c) : index(i), ctx(c), acceptor(c) {}
  ~Shard();
  std::size_t index;
  asio::io_context& ctx;
  tcp::acceptor acceptor;
  std::list<Session*> sessions;
  asio::steady_timer* sweep_timer = nullptr;  // while the sweep runs; cancelled by begin_stop
};

// Shared with every coroutine so that frames abandoned in a destroyed io_context never
// reference a destroyed Server.
struct Core : std::enable_shared_from_this<Core> {
  ServerConfig config;
  Handler handler;
  RequestObserver* observer = nullptr;
  std::vector<std::unique_ptr<Shard>> shards;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> live{0};  // accept loops + connection coroutines
  std::mutex mutex;
  std::condition_variable drained;

  void coroutine_ended() {
    if (live.fetch_sub(1) == 1) {
      std::lock_guard lock(mutex);
      drained.notify_all();
    }
  }
};

const std::string& overloaded_reply() {
  static const std::string reply = [] {
    std::string body = Response::error(503, "overloaded", "too many connections").body;
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
           "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  return reply;
}

// A fresh socket's send buffer is empty, so one non-blocking write_some sends the whole small
// reply without ever blocking the I/O thread.
void reject_overloaded(tcp::socket& socket) {
  beast::error_code ec;
  socket.non_blocking(true, ec);
  socket.write_some(asio::buffer(overloaded_reply()), ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

std::optional<Response> rejection_for(const beast::error_code& ec, std::size_t body_limit) {
  if (ec == bhttp::error::body_limit)
    return Response::error(413, "payload_too_large",
                           "request body exceeds " + std::to_string(body_limit) + " bytes");
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow)
    return Response::error(431, "invalid_request", "request header fields too large");
  // Anything else from the HTTP parser is a malformed request; the rest (EOF, reset, timeout,
  // abort) means the peer is gone or too slow, and there is nobody to answer.
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message &&
      ec != bhttp::error::need_more && ec != bhttp::error::need_buffer)
    return Response::error(400, "invalid_request", "malformed HTTP request");
  return std::nullopt;
}

// Characters of an origin-form path that need neither decoding nor the full URL parser
// (RFC 3986 pchar without '%', and '/').
bool plain_path_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case ':':
    case '@':
    case '/':
      return true;
    default:
      return false;
  }
}

bool split_target(std::string_view target, Request& req) {
  // Fast path: a plain path without query or escapes (the hot path's "/v1/reservations").
  if (!target.empty() && target.front() == '/' &&
      std::all_of(target.begin(), target.end(), plain_path_char)) {
    req.path.assign(target.data(), target.size());
    req.query.clear();
    return true;
  }
  auto url = boost::urls::parse_origin_form(target);
  if (!url) url = boost::urls::parse_absolute_uri(target);
  if (!url) return false;
  // Assigned into the reused strings; only a path with escapes needs decoding.
  const auto encoded_path = url->encoded_path();
  if (encoded_path.find('%') == std::string_view::npos)
    req.path.assign(encoded_path.data(), encoded_path.size());
  else
    req.path = url->path();
  if (req.path.empty()) req.path = "/";
  const auto query = url->encoded_query();
  req.query.assign(query.data(), query.size());
  return true;
}

bool wants_close(const Response& res) {
  return std::any_of(res.headers.begin(), res.headers.end(), [](const Header& h) {
    return ascii_iequals(h.name, "connection") &&
           ascii_lowercase(h.value).find("close") != std::string::npos;
  });
}

// Framing headers are the server's business; a handler setting them would corrupt the stream.
bool reserved_header(std::string_view name) {
  return ascii_iequals(name, "content-length") || ascii_iequals(name, "transfer-encoding") ||
         ascii_iequals(name, "connection");
}

unsigned checked_status(int status) {
  return status >= 100 && status <= 999 ? static_cast<unsigned>(status) : 500u;
}

template <class Body>
void copy_head(const Response& res, bhttp::response<Body>& msg) {
  msg.result(checked_status(res.status));
  if (!res.content_type.empty()) msg.set(bhttp::field::content_type, res.content_type);
  for (const auto& h : res.headers)
    if (!reserved_header(h.name)) msg.insert(h.name, h.value);
}

// The response head, written by hand into a buffer the connection reuses: Beast's message and
// serializer allocated every field on every response. Same bytes as Beast wrote for a
// string_body response after keep_alive() and prepare_payload(): status line with Beast's
// reason phrase, Content-Type, the handler's headers, Connection, Content-Length.
void build_head(std::string& out, unsigned version, const Response& res, bool keep_alive,
                std::size_t content_length) {
  const unsigned status = checked_status(res.status);
  using namespace std::string_view_literals;  // sized appends: no strlen per piece
  out.clear();
  const char version_text[] = {'H', 'T',
                               'T', 'P',
                               '/', static_cast<char>('0' + version / 10 % 10),
                               '.', static_cast<char>('0' + version % 10),
                               ' '};
  out.append(version_text, sizeof version_text);
  append_decimal(out, status);
  out.push_back(' ');
  const auto reason = bhttp::obsolete_reason(bhttp::int_to_status(status));
  out.append(reason.data(), reason.size());
  out.append("\r\n"sv);
  if (!res.content_type.empty())
    out.append("Content-Type: "sv).append(res.content_type).append("\r\n"sv);
  for (const auto& h : res.headers) {
    if (reserved_header(h.name)) continue;
    out.append(h.name).append(": "sv).append(h.value).append("\r\n"sv);
  }
  if (version >= 11 && !keep_alive) out.append("Connection: close\r\n"sv);
  if (version < 11 && keep_alive) out.append("Connection: keep-alive\r\n"sv);
  out.append("Content-Length: "sv);
  append_decimal(out, content_length);
  out.append("\r\n\r\n"sv);
}

// Sends what the kernel takes right now, never blocking: the bytes sent, 0 if the send buffer
// is full, or the socket's error.
std::pair<beast::error_code, std::size_t> send_now(tcp::socket& socket,
                                                   const std::array<asio::const_buffer, 2>& b) {
  std::array<iovec, 2> iov{};
  for (std::size_t i = 0; i < b.size(); ++i) {
    iov[i].iov_base = const_cast<void*>(b[i].data());  // sendmsg does not write through it
    iov[i].iov_len = b[i].size();
  }
  msghdr msg{};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = b[1].size() > 0 ? 2 : 1;
  for (;;) {
    const ssize_t n = ::sendmsg(socket.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return {{}, static_cast<std::size_t>(n)};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {{}, 0};
    return {beast::error_code(errno, boost::system::system_category()), 0};
  }
}

// `head` is the connection's reusable buffer for the response head.
asio::awaitable<bool> write_response(Session& s, std::string& head, unsigned version,
                                     const Response& res, bool keep_alive,
                                     std::chrono::milliseconds timeout) {
  const unsigned status = checked_status(res.status);
  const bool bodyless = status / 100 == 1 || status == 204 || status == 304;
  const std::size_t length = bodyless ? 0 : res.body.size();
  build_head(head, version, res, keep_alive, length);
  std::array<asio::const_buffer, 2> buffers{asio::buffer(head),
                                            asio::buffer(res.body.data(), length)};
  // A reply almost always fits the socket's send buffer: one non-blocking sendmsg takes it all
  // and the coroutine goes on at once. (asio::async_write would do the same send, then post its
  // completion and resume the coroutine from the scheduler: a queue round trip, and often an
  // extra epoll_wait, per response.) Whatever the kernel did not take goes out asynchronously,
  // under the write deadline.
  const auto total = head.size() + length;
  const auto [send_ec, sent] = send_now(s.stream.socket(), buffers);
  if (send_ec) co_return false;
  if (sent == total) co_return true;
  if (sent < head.size()) {
    buffers[0] += sent;
  } else {
    buffers[1] += sent - head.size();
    buffers[0] = asio::const_buffer();
  }
  s.arm(Clock::now() + timeout);
  auto [ec, written] = co_await asio::async_write(s.stream.socket(), buffers, kTuple);
  (void)written;
  co_return !s.disarm(ec);
}

asio::awaitable<void> linger_close(Session& s) {
  beast::error_code ec;
  s.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  s.stream.expires_after(kLingerTime);
  std::array<char, 8192> sink;
  std::size_t drained = 0;
  while (drained < kLingerBytes) {
    auto [read_ec, n] = co_await s.stream.async_read_some(asio::buffer(sink), kTuple);
    if (read_ec) break;
    drained += n;
  }
}

// Detects a client that went away while a stream is idle between writes (a write into the
// kernel buffer would succeed for a while). Uses the raw socket so that the tcp_stream's
// timers stay dedicated to the writes.
asio::awaitable<void> watch_peer(std::shared_ptr<Session> s) {
  std::array<char, 512> sink;
  for (;;) {
    auto [ec, n] = co_await s->stream.socket().async_read_some(asio::buffer(sink), kTuple);
    (void)n;
    if (ec) break;
  }
  s->peer_gone = true;
}

// Tells a handler that parked its request (admission queue) that the client went away. Armed
// only on demand, so requests that never ask cost nothing. It waits for readability without
// consuming anything: EOF or a reset means gone; bytes mean a pipelined request (left in the
// kernel buffer for the next read), after which the watch stops.
class SessionDisconnectWatch final : public DisconnectWatch {
 public:
  SessionDisconnectWatch(const std::shared_ptr<Session>& s, beast::flat_buffer& buffer)
      : s_(s), buffer_(buffer) {}
  SessionDisconnectWatch(const SessionDisconnectWatch&) = delete;
  SessionDisconnectWatch& operator=(const SessionDisconnectWatch&) = delete;
  ~SessionDisconnectWatch() override { finish(); }

  void notify_on_disconnect(std::function<void()> on_gone) override {
    if (!state_) {
      // A parked request may wait long: give back the read buffer (4 KiB or more) unless it
      // holds a pipelined request. (Requests are parsed straight into the reused Request, so
      // there is no second copy of the headers to drop.)
      if (buffer_.size() == 0) buffer_.shrink_to_fit();
      state_ = std::make_shared<State>();
      state_->on_gone = std::move(on_gone);
      watch(s_, state_);
    } else {
      state_->on_gone = std::move(on_gone);
    }
  }

  // The handler returned: the callback must never run now, and the wait is cancelled.
  void finish() {
    if (!state_ || state_->finished) return;
    state_->finished = true;
    state_->on_gone = nullptr;
    if (!state_->waiting) return;
    beast::error_code ec;
    s_->stream.socket().cancel(ec);  // nothing else is pending on the socket during the handler
  }

 private:
  struct State {
    std::function<void()> on_gone;
    bool finished = false;
    bool waiting = false;
  };

  // A plain completion handler, not a coroutine: a parked request may wait for long, and a
  // spawned coroutine (its thread, frames and awaitable op) cost several hundred bytes more.
  static void watch(std::shared_ptr<Session> s, std::shared_ptr<State> st) {
    if (st->finished) return;
    st->waiting = true;
    Session& session = *s;
    session.stream.socket().async_wait(
        tcp::socket::wait_read, [s = std::move(s), st = std::move(st)](beast::error_code ec) {
          st->waiting = false;
          if (st->finished || ec == asio::error::operation_aborted) return;
          char byte = 0;
          const ssize_t n =
              ::recv(s->stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
          if (n > 0) return;  // a pipelined request: the client is still there
          if (n < 0 && !ec && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return watch(s, st);
          if (auto on_gone = std::move(st->on_gone)) on_gone();
        });
  }

  const std::shared_ptr<Session>& s_;
  beast::flat_buffer& buffer_;
  std::shared_ptr<State> state_;
};

// Chunked transfer coding for HTTP/1.1 clients (the end of the stream is explicit, so a client
// can tell a clean end from a crash); HTTP/1.0 clients get a close-delimited body.
class SessionStreamWriter final : public StreamWriter {
 public:
  SessionStreamWriter(Session& s, bool chunked, std::chrono::milliseconds timeout)
      : s_(s), chunked_(chunked), timeout_(timeout) {}

  asio::awaitable<bool> write(std::string chunk) override {
    if (s_.peer_gone || s_.stop_requested) co_return false;
    if (chunk.empty()) co_return true;  // an empty chunk would end a chunked body
    s_.stream.expires_after(timeout_);
    beast::error_code ec;
    if (chunked_) {
      auto [write_ec, n] =
          co_await asio::async_write(s_.stream, bhttp::make_chunk(asio::buffer(chunk)), kTuple);
      (void)n;
      ec = write_ec;
    } else {
      auto [write_ec, n] = co_await asio::async_write(s_.stream, asio::buffer(chunk), kTuple);
      (void)n;
      ec = write_ec;
    }
    if (ec) s_.peer_gone = true;
    co_return !s_.peer_gone;
  }

 private:
  Session& s_;
  bool chunked_;
  std::chrono::milliseconds timeout_;
};

asio::awaitable<void> stream_response(Core& core, Shard& shard, std::shared_ptr<Session> s,
                                      unsigned version, Response& res) {
  bhttp::response<bhttp::empty_body> head;
  head.version(version);
  copy_head(res, head);
  head.set(bhttp::field::cache_control, "no-cache");
  head.keep_alive(false);
  const bool chunked = version >= 11;
  if (chunked) head.chunked(true);
  bhttp::response_serializer<bhttp::empty_body> serializer{head};
  s->stream.expires_after(core.config.write_timeout);
  auto [ec, n] = co_await bhttp::async_write_header(s->stream, serializer, kTuple);
  (void)n;
  if (ec) co_return;

  s->phase = Phase::streaming;
  if (core.stopping.load()) s->stop_requested = true;
  asio::co_spawn(shard.ctx, watch_peer(s), asio::detached);
  SessionStreamWriter writer(*s, chunked, core.config.write_timeout);
  try {
    co_await res.stream(writer);
  } catch (const std::exception&) {
    // The stream ends here either way; the client sees the body stop.
  }
  if (chunked && !s->peer_gone) {
    s->stream.expires_after(core.config.write_timeout);
    auto [last_ec, last_n] =
        co_await asio::async_write(s->stream, bhttp::make_chunk_last(), kTuple);
    (void)last_ec;
    (void)last_n;
  }
}

// Parses a request straight into the connection's Request, which is reused from one request
// to the next: once its strings and header vector have grown to the connection's usual request,
// reading a request allocates nothing (Beast's request_parser allocated the method, the target
// and every field, and the body was copied out of it).
class RequestParser final : public bhttp::basic_parser<true> {
 public:
  explicit RequestParser(Request& req) : req_(req) {
    req_.method.clear();
    req_.target.clear();
    req_.path.clear();
    req_.query.clear();
    req_.body.clear();
    req_.path_params.clear();
  }
  unsigned version() const { return version_; }
  bool expects_continue() const { return expect_continue_; }
  // After an error the fields read so far are not the request's.
  void forget_fields() { req_.headers.clear(); }

 private:
  void on_request_impl(bhttp::verb, beast::string_view method, beast::string_view target,
                       int version, beast::error_code&) override {
    req_.method.assign(method.data(), method.size());
    req_.target.assign(target.data(), target.size());
    version_ = static_cast<unsigned>(version);
  }
  void on_response_impl(int, beast::string_view, int, beast::error_code&) override {}
  void on_field_impl(bhttp::field f, beast::string_view name, beast::string_view value,
                     beast::error_code&) override {
    if (f == bhttp::field::expect && !seen_expect_) {
      seen_expect_ = true;
      expect_continue_ = ascii_iequals(value, "100-continue");
    }
    auto& headers = req_.headers;
    if (fields_ == headers.size()) headers.emplace_back();
    Header& h = headers[fields_++];
    h.name.resize(name.size());
    std::transform(name.begin(), name.end(), h.name.begin(), [](char c) {
      return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;  // names are ASCII
    });
    h.value.assign(value.data(), value.size());
  }
  void on_header_impl(beast::error_code&) override { req_.headers.resize(fields_); }
  void on_body_init_impl(const boost::optional<std::uint64_t>& length,
                         beast::error_code&) override {
    if (length) req_.body.reserve(static_cast<std::size_t>(*length));  // within body_limit
  }
  std::size_t on_body_impl(beast::string_view body, beast::error_code&) override {
    req_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body,
                                 beast::error_code&) override {
    req_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(beast::error_code&) override {}

  Request& req_;
  std::size_t fields_ = 0;
  unsigned version_ = 11;
  bool seen_expect_ = false;
  bool expect_continue_ = false;
};

// Reads one request into `parser`. What is already buffered (usually the whole request, read by
// the caller's first read) is parsed synchronously; the socket is read only while the parser
// needs more. Beast's async_read_header/async_read did the same through composed operations
// that completed by posting, even when nothing had to be read: a scheduler round trip and a
// few allocations per request. Errors are Beast's, as those functions reported them.
// `last_read` is set to the time of each read this makes (when the request is complete).
asio::awaitable<beast::error_code> read_request(Session& s, beast::flat_buffer& buffer,
                                                RequestParser& parser, Clock::time_point deadline,
                                                Clock::time_point& last_read) {
  parser.eager(true);  // header and body in one put() when both are buffered
  bool continue_sent = false;
  for (;;) {
    beast::error_code ec;
    if (buffer.size() > 0) {
      const auto used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == bhttp::error::need_more)
        ec = {};
      else if (ec)
        co_return ec;
      if (parser.is_done()) co_return ec;
      if (used > 0 && buffer.size() > 0)
        continue;  // more to parse (e.g. the body after the header)
    }
    if (parser.is_header_done() && parser.expects_continue() && !continue_sent) {
      continue_sent = true;
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      s.arm(deadline);
      auto [cont_ec, cont_n] = co_await asio::async_write(
          s.stream.socket(), asio::buffer(kContinue.data(), kContinue.size()), kTuple);
      (void)cont_n;
      if (auto e = s.disarm(cont_ec)) co_return e;
    }
    s.arm(deadline);
    auto [raw_ec, n] = co_await s.stream.socket().async_read_some(
        buffer.prepare(beast::read_size(buffer, 65536)), kTuple);
    const auto read_ec = s.disarm(raw_ec);
    buffer.commit(n);
    last_read = Clock::now();
    if (read_ec == asio::error::eof) {
      // As Beast's read: EOF before any byte is end_of_stream; inside a message, put_eof decides.
      if (!parser.got_some()) co_return bhttp::error::end_of_stream;
      parser.put_eof(ec);
      if (!ec && !parser.is_done()) ec = bhttp::error::partial_message;
      co_return ec;
    }
    if (read_ec) co_return read_ec;
  }
}

// Returns the time it read, which is when the response went out: the request path reads the
// clock twice per request (here, and when the request arrived), and every deadline and latency
// is computed from those two readings.
Clock::time_point observe(Core& core, const Request& req, const Response& res,
                          Clock::time_point started) {
  const auto now = Clock::now();
  if (core.observer) core.observer->on_request(req, res, now - started);
  return now;
}

void spawn_serve(std::shared_ptr<Core> core, Shard& shard, std::shared_ptr<Session> s,
                 bool resumed);

// A request its handler parked (Parking): all that is left of the connection while it waits.
// No coroutine frame exists meanwhile (a coroutine chain cost ~8 KB per queued request); the
// Session owns itself through `self` until woken, and the socket is watched for the client
// going away (watch_parked). Counts as a live connection for stop().
struct Parked final : Parking::Waker {
  Core* core = nullptr;
  Shard* shard = nullptr;
  std::shared_ptr<Session> self;
  std::shared_ptr<Parking> parking;
  Request req;
  beast::flat_buffer buffer;  // a pipelined request that arrived with this one, if any
  Clock::time_point started;
  unsigned version = 11;
  bool keep_alive = false;
  bool woken = false;

  void wake() override {
    if (woken) return;
    woken = true;
    beast::error_code ec;
    self->stream.socket().cancel(ec);  // the watch, if it still waits
    // Posted: wake() may come from within park(), while the coroutine that parked still runs
    // (and still uses the session's cancellation slot, which the new coroutine takes over).
    asio::post(shard->ctx,
               [core = core->shared_from_this(), shard = shard, s = std::move(self)]() mutable {
                 spawn_serve(std::move(core), *shard, std::move(s), true);
               });
  }

  // The client went away (or the server force-stops): leave the wait, answer nobody.
  void gone() {
    if (woken) return;
    parking->abandon();
    wake();
  }
};

Session::~Session() = default;

Shard::~Shard() {
  // Only reached with parked requests when the io_context stopped without the Server draining
  // them (stop() waits for them otherwise): they own themselves, so free them here.
  for (Session* s : sessions)
    if (s->parked) s->parked->self.reset();
}

// Watches a parked connection without consuming anything, as SessionDisconnectWatch does: EOF,
// a reset or the socket closed under it means gone; bytes mean a pipelined request (the client
// is still there; the watch stops).
void watch_parked(std::shared_ptr<Session> s) {
  Session& session = *s;
  session.stream.socket().async_wait(
      tcp::socket::wait_read, [s = std::move(s)](beast::error_code ec) mutable {
        Parked* p = s->parked.get();
        if (!p || p->woken) return;
        if (!ec) {
          char byte = 0;
          const ssize_t n =
              ::recv(s->stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
          if (n > 0) return;
          if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return watch_parked(std::move(s));
        }
        p->gone();
      });
}

// The handler parked the request: the connection's state moves into a Parked record, and the
// coroutine ends (serve() leaves the connection open while s->parked is set).
void park(Core& core, Shard& shard, const std::shared_ptr<Session>& s, Request& req,
          beast::flat_buffer& buffer, unsigned version, bool keep_alive, Clock::time_point started,
          std::shared_ptr<Parking> parking) {
  auto p = std::make_unique<Parked>();
  p->core = &core;
  p->shard = &shard;
  p->self = s;
  p->parking = std::move(parking);
  p->req = std::move(req);
  if (buffer.size() > 0) p->buffer = std::move(buffer);  // else its 4 KiB go with the frame
  p->started = started;
  p->version = version;
  p->keep_alive = keep_alive;
  Parked& parked = *p;
  s->parked = std::move(p);
  watch_parked(s);
  parked.parking->park(parked);
}

// The parked request's turn came (or its client went away): its response, sent as
// serve_requests sends a handler's. True: the connection goes on (keep-alive).
asio::awaitable<bool> answer_parked(Core& core, Shard& shard, const std::shared_ptr<Session>& s,
                                    Parked& p) {
  Response res;
  try {
    res = co_await p.parking->resume(p.req);
  } catch (const std::exception&) {
    res = Response::error(500, "internal", "internal server error");
  }
  p.parking.reset();
  if (res.parking) res = Response::error(500, "internal", "internal server error");
  if (res.stream) {
    co_await stream_response(core, shard, s, p.version, res);
    observe(core, p.req, res, p.started);
    co_return false;
  }
  const bool keep_alive = p.keep_alive && !core.stopping.load() && !wants_close(res);
  std::string head;
  if (!co_await write_response(*s, head, p.version, res, keep_alive, core.config.write_timeout))
    co_return false;
  observe(core, p.req, res, p.started);
  if (!keep_alive) {
    beast::error_code ec;
    s->stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    co_return false;
  }
  co_return true;
}

// `resumed`: the record of a parked request that answer_parked answered; the connection goes on
// with its request (reused) and buffer.
asio::awaitable<void> serve_requests(Core& core, Shard& shard, std::shared_ptr<Session> s,
                                     std::unique_ptr<Parked> resumed) {
  const ServerConfig& cfg = core.config;
  beast::flat_buffer buffer;
  // Reused by every request of this connection (see RequestParser): steady-state requests
  // allocate neither their fields nor their response head.
  Request req;
  std::string head;
  // A new connection gets header_timeout from accept for its whole first request; a
  // kept-alive one may idle for idle_timeout, then gets header_timeout from its first byte.
  bool first = true;
  Clock::time_point idle_from = Clock::now();  // when the last response went out
  auto deadline = idle_from + cfg.header_timeout;
  if (resumed) {
    req = std::move(resumed->req);
    buffer = std::move(resumed->buffer);
    resumed.reset();
    first = false;
  } else {
    req.worker = shard.index;
    req.parkable = true;
    beast::error_code ec;
    auto peer = s->stream.socket().remote_endpoint(ec);
    if (!ec) req.remote_ip = peer.address().to_string();
  }

  while (!core.stopping.load(std::memory_order_relaxed)) {
    if (buffer.size() == 0) {
      s->phase = Phase::awaiting_request;
      s->arm(first ? deadline : idle_from + cfg.idle_timeout);
      auto [ec, n] =
          co_await s->stream.socket().async_read_some(buffer.prepare(kFirstReadSize), kTuple);
      if (s->disarm(ec)) co_return;
      buffer.commit(n);
    }
    // The first bytes of this request are here (or were, pipelined, with the previous one).
    Clock::time_point arrived = Clock::now();
    if (!first) deadline = arrived + cfg.header_timeout;
    first = false;
    s->phase = Phase::busy;
    req.route = {};

    RequestParser parser(req);
    parser.header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(cfg.header_limit, std::numeric_limits<std::uint32_t>::max())));
    parser.body_limit(cfg.body_limit);
    auto ec = co_await read_request(*s, buffer, parser, deadline, arrived);

    const unsigned version = parser.is_header_done() ? parser.version() : 11;
    const auto started = arrived;  // the request's last bytes arrived

    if (ec) {
      parser.forget_fields();
      req.body.clear();
      if (!parser.is_header_done()) {
        req.method.clear();
        req.target.clear();
      }
      std::optional<Response> rejection = rejection_for(ec, cfg.body_limit);
      if (!rejection) co_return;
      if (co_await write_response(*s, head, version, *rejection, false, cfg.write_timeout)) {
        observe(core, req, *rejection, started);
        co_await linger_close(*s);
      }
      co_return;
    }

    bool keep_alive = parser.keep_alive();

    Response res;
    if (!split_target(req.target, req)) {
      res = Response::error(400, "invalid_request", "malformed request target");
    } else {
      SessionDisconnectWatch disconnect(s, buffer);
      req.disconnect = &disconnect;
      try {
        res = co_await core.handler(req);
      } catch (const std::exception&) {
        // Never leak what went wrong to the client; the connection remains usable.
        res = Response::error(500, "internal", "internal server error");
      }
      disconnect.finish();
      req.disconnect = nullptr;
    }

    if (res.parking) {
      park(core, shard, s, req, buffer, version, keep_alive, started, std::move(res.parking));
      co_return;
    }

    if (res.stream) {
      co_await stream_response(core, shard, s, version, res);
      observe(core, req, res, started);
      co_return;
    }

    keep_alive = keep_alive && !core.stopping.load() && !wants_close(res);
    if (!co_await write_response(*s, head, version, res, keep_alive, cfg.write_timeout)) co_return;
    idle_from = observe(core, req, res, started);
    if (!keep_alive) {
      beast::error_code shutdown_ec;
      s->stream.socket().shutdown(tcp::socket::shutdown_send, shutdown_ec);
      co_return;
    }
  }
}

// `resumed`: a parked request was woken (Parked::wake); the connection is registered already.
asio::awaitable<void> serve(std::shared_ptr<Core> core, Shard& shard, std::shared_ptr<Session> s,
                            bool resumed) {
  std::unique_ptr<Parked> parked;
  if (resumed) {
    parked = std::move(s->parked);
  } else {
    shard.sessions.push_front(s.get());
    s->registration = shard.sessions.begin();
    if (core->observer) core->observer->on_connection_change(+1);
  }
  try {
    if (!parked || co_await answer_parked(*core, shard, s, *parked))
      co_await serve_requests(*core, shard, s, std::move(parked));
  } catch (const std::exception&) {
    // Only cancellation after the grace period or a failing observer get here; either way
    // this connection is finished.
  }
  if (s->parked) co_return;  // parked (again): the connection lives on without a coroutine
  shard.sessions.erase(s->registration);
  beast::error_code ec;
  s->stream.socket().close(ec);
  core->connections.fetch_sub(1);
  if (core->observer) core->observer->on_connection_change(-1);
}

asio::awaitable<void> accept_loop(std::shared_ptr<Core> core, Shard& shard) {
  for (;;) {
    auto [ec, socket] = co_await shard.acceptor.async_accept(kTuple);
    if (core->stopping.load() || !shard.acceptor.is_open()) co_return;
    if (ec) {
      asio::steady_timer backoff(shard.ctx, kAcceptRetryDelay);
      co_await backoff.async_wait(kTuple);
      continue;
    }
    if (core->connections.load() >= core->config.max_connections) {
      reject_overloaded(socket);
      if (core->observer) core->observer->on_connection_rejected();
      continue;
    }
    core->connections.fetch_add(1);
    beast::error_code opt_ec;
    socket.set_option(tcp::no_delay(true), opt_ec);
    auto session = std::make_shared<Session>(std::move(socket));
    core->live.fetch_add(1);
    spawn_serve(core, shard, std::move(session), false);
  }
}

// A connection counts in `live` from accept to its end, parked spells included (its coroutine
// ends when the request parks, and a new one is spawned when it is woken).
void spawn_serve(std::shared_ptr<Core> core, Shard& shard, std::shared_ptr<Session> s,
                 bool resumed) {
  Session& session = *s;
  asio::co_spawn(shard.ctx, serve(core, shard, s, resumed),
                 asio::bind_cancellation_slot(session.cancel.slot(), [core, s](std::exception_ptr) {
                   if (!s->parked) core->coroutine_ended();
                 }));
}

// Enforces the sessions' deadlines (Session::deadline) every `interval`, so a timeout fires up
// to `interval` late. Runs until begin_stop.
asio::awaitable<void> sweep_loop(std::shared_ptr<Core> core, Shard& shard,
                                 std::chrono::milliseconds interval) {
  asio::steady_timer timer(shard.ctx);
  shard.sweep_timer = &timer;
  while (!core->stopping.load()) {
    timer.expires_after(interval);
    co_await timer.async_wait(kTuple);
    if (core->stopping.load()) break;
    const auto now = Clock::now();
    for (Session* s : shard.sessions) {
      if (s->deadline > now) continue;
      s->deadline = Clock::time_point::max();
      s->timed_out = true;
      s->stream.close();  // the pending operation completes with an error, read as a timeout
    }
  }
  shard.sweep_timer = nullptr;
}

std::chrono::milliseconds sweep_interval(const ServerConfig& c) {
  const auto shortest = std::min({c.header_timeout, c.idle_timeout, c.write_timeout});
  return std::clamp(shortest / 4, std::chrono::milliseconds{10}, std::chrono::milliseconds{250});
}

void begin_stop(Shard& shard) {
  beast::error_code ec;
  if (shard.sweep_timer) shard.sweep_timer->cancel();
  shard.acceptor.close(ec);
  std::vector<Session*> sessions(shard.sessions.begin(), shard.sessions.end());
  for (Session* s : sessions) {
    if (s->phase == Phase::awaiting_request) {
      s->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      s->stream.close();
    } else if (s->phase == Phase::streaming) {
      s->stop_requested = true;
    }
  }
}

void force_stop(Shard& shard) {
  std::vector<Session*> sessions(shard.sessions.begin(), shard.sessions.end());
  for (Session* s : sessions) {
    if (s->parked) {  // no coroutine to cancel: resumed to answer nobody, then it ends
      s->parked->gone();
      s->stream.close();
      continue;
    }
    s->stream.close();
    s->cancel.emit(asio::cancellation_type::terminal);
  }
}

}  // namespace

struct Server::Impl {
  IoRuntime& runtime;
  std::shared_ptr<Core> core = std::make_shared<Core>();
  std::uint16_t port = 0;
  std::mutex stop_mutex;
  bool started = false;
  bool stopped = false;

  explicit Impl(IoRuntime& r) : runtime(r) {}
};

Server::Server(IoRuntime& runtime, ServerConfig config, Handler handler, RequestObserver* observer)
    : impl_(std::make_unique<Impl>(runtime)) {
  Core& core = *impl_->core;
  core.config = std::move(config);
  core.handler = std::move(handler);
  core.observer = observer;
  for (std::size_t i = 0; i < runtime.size(); ++i)
    core.shards.push_back(std::make_unique<Shard>(i, runtime.context(i)));
}

Server::~Server() { stop(); }

void Server::start() {
  std::lock_guard lock(impl_->stop_mutex);
  if (impl_->started) throw std::logic_error("http::Server::start called twice");
  auto& core = impl_->core;
  const auto address = asio::ip::make_address(core->config.address);
  std::uint16_t port = core->config.port;
  // Every io_context gets its own listening socket on the same port; the kernel spreads new
  // connections across them (SO_REUSEPORT), so no thread hands sockets to another.
  for (auto& shard : core->shards) {
    const tcp::endpoint endpoint{address, port};
    shard->acceptor.open(endpoint.protocol());
    shard->acceptor.set_option(tcp::acceptor::reuse_address(true));
    shard->acceptor.set_option(ReusePort(true));
    shard->acceptor.bind(endpoint);
    shard->acceptor.listen(asio::socket_base::max_listen_connections);
    if (port == 0) port = shard->acceptor.local_endpoint().port();
  }
  impl_->port = port;
  impl_->started = true;
  for (auto& shard : core->shards) {
    core->live.fetch_add(1);
    asio::co_spawn(shard->ctx, accept_loop(core, *shard),
                   [core](std::exception_ptr) { core->coroutine_ended(); });
    core->live.fetch_add(1);
    asio::co_spawn(shard->ctx, sweep_loop(core, *shard, sweep_interval(core->config)),
                   [core](std::exception_ptr) { core->coroutine_ended(); });
  }
}

std::uint16_t Server::port() const { return impl_->port; }

void Server::stop(std::chrono::milliseconds grace) {
  std::lock_guard stop_lock(impl_->stop_mutex);
  if (!impl_->started || impl_->stopped) return;
  impl_->stopped = true;
  std::shared_ptr<Core> core = impl_->core;
  core->stopping.store(true);
  // A stopped io_context will never run our posts; its coroutines die with it.
  if (std::any_of(core->shards.begin(), core->shards.end(),
                  [](const auto& shard) { return shard->ctx.stopped(); }))
    return;
  for (auto& shard : core->shards) {
    assert(!shard->ctx.get_executor().running_in_this_thread() &&
           "Server::stop must not be called from an I/O thread");
    asio::post(shard->ctx, [core, shard = shard.get()] { begin_stop(*shard); });
  }
  std::unique_lock lock(core->mutex);
  if (core->drained.wait_for(lock, grace, [&] { return core->live.load() == 0; })) return;
  lock.unlock();
  for (auto& shard : core->shards)
    asio::post(shard->ctx, [core, shard = shard.get()] { force_stop(*shard); });
  lock.lock();
  core->drained.wait(lock, [&] { return core->live.load() == 0; });
}

}  // namespace fs::http
