#include "http/client.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "common/ascii.hpp"

namespace fs::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::uint64_t kResponseBodyLimit = 64 * 1024 * 1024;
constexpr std::uint32_t kResponseHeaderLimit = 64 * 1024;

Error io_error(const beast::error_code& ec, std::string_view what) {
  // A timeout after the request was sent leaves its outcome unknown; everything else means
  // the request was not (fully) processed by a live peer.
  if (ec == beast::error::timeout) return Error(Errc::timeout, std::string(what) + ": timed out");
  return Error(Errc::unavailable, std::string(what) + ": " + ec.message());
}

class BeastConnection final : public Connection {
 public:
  BeastConnection(asio::any_io_executor executor, ConnectionConfig config)
      : executor_(std::move(executor)), config_(std::move(config)) {}

  asio::awaitable<Result<ClientResponse>> send(ClientRequest request) override {
    bhttp::request<bhttp::string_body> msg;
    const auto verb = bhttp::string_to_verb(request.method);
    if (verb == bhttp::verb::unknown)
      msg.method_string(request.method);
    else
      msg.method(verb);
    msg.target(request.target);
    msg.version(11);
    bool has_host = false;
    for (const auto& h : request.headers) {
      has_host = has_host || ascii_iequals(h.name, "host");
      msg.insert(h.name, h.value);
    }
    if (!has_host) msg.set(bhttp::field::host, config_.host + ":" + std::to_string(config_.port));
    msg.body() = std::move(request.body);
    msg.prepare_payload();
    const bool head = verb == bhttp::verb::head;

    // A kept-alive socket the server has meanwhile closed fails on write or yields EOF before
    // any response byte. The server cannot have acted on such a request, so one retry on a
    // fresh connection is safe. A fresh connection's failure is reported as is.
    Attempt attempt = co_await exchange(msg, head);
    if (attempt.retryable) attempt = co_await exchange(msg, head);
    if (attempt.error) co_return std::move(*attempt.error);
    co_return std::move(*attempt.response);
  }

  void close() override {
    if (!stream_) return;
    beast::error_code ec;
    stream_->socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_->socket().close(ec);
    stream_.reset();
    buffer_.clear();
  }

 private:
  struct Attempt {
    std::optional<ClientResponse> response;
    std::optional<Error> error;
    bool retryable = false;
  };

  asio::awaitable<Attempt> exchange(bhttp::request<bhttp::string_body>& msg, bool head) {
    Attempt out;
    const bool reused = stream_.has_value();
    if (!reused) {
      Status connected = co_await connect();
      if (!connected) {
        out.error = connected.error();
        co_return out;
      }
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kResponseBodyLimit);
    parser.header_limit(kResponseHeaderLimit);
    if (head) parser.skip(true);

    stream_->expires_after(config_.timeout);
    auto [write_ec, written] = co_await bhttp::async_write(*stream_, msg, kTuple);
    (void)written;
    beast::error_code ec = write_ec;
    if (!ec) {
      auto [read_ec, read_n] = co_await bhttp::async_read(*stream_, buffer_, parser, kTuple);
      (void)read_n;
      ec = read_ec;
    }
    if (ec) {
      out.retryable = reused && !parser.got_some() && ec != beast::error::timeout;
      close();
      out.error = io_error(ec, "http request to " + config_.host);
      co_return out;
    }

    auto& res = parser.get();
    ClientResponse response;
    response.status = static_cast<int>(res.result_int());
    for (const auto& field : res)
      response.headers.push_back(
          Header{ascii_lowercase(field.name_string()), std::string(field.value())});
    response.body = std::move(res.body());
    if (!res.keep_alive()) close();
    out.response = std::move(response);
    co_return out;
  }

  asio::awaitable<Status> connect() {
    if (endpoints_.empty()) {
      beast::error_code ec;
      auto address = asio::ip::make_address(config_.host, ec);
      if (!ec) {
        endpoints_.emplace_back(address, config_.port);
      } else {
        tcp::resolver resolver(executor_);
        auto [resolve_ec, results] =
            co_await resolver.async_resolve(config_.host, std::to_string(config_.port), kTuple);
        if (resolve_ec)
          co_return Error(Errc::unavailable,
                          "resolve " + config_.host + ": " + resolve_ec.message());
        for (const auto& entry : results) endpoints_.push_back(entry.endpoint());
      }
    }
    stream_.emplace(executor_);
    buffer_.clear();
    // Nothing was sent yet, so a connect timeout is as retryable as a refusal: unavailable.
    stream_->expires_after(config_.timeout);
    auto [ec, endpoint] = co_await stream_->async_connect(endpoints_, kTuple);
    (void)endpoint;
    if (ec) {
      stream_.reset();
      co_return Error(Errc::unavailable, "connect to " + config_.host + ":" +
                                             std::to_string(config_.port) + ": " + ec.message());
    }
    beast::error_code opt_ec;
    stream_->socket().set_option(tcp::no_delay(true), opt_ec);
    co_return Status{};
  }

  asio::any_io_executor executor_;
  ConnectionConfig config_;
  std::vector<tcp::endpoint> endpoints_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

}  // namespace

std::string_view ClientResponse::header(std::string_view lower_name) const {
  for (const auto& h : headers)
    if (ascii_iequals(h.name, lower_name)) return h.value;
  return {};
}

std::unique_ptr<Connection> make_connection(asio::any_io_executor executor,
                                            ConnectionConfig config) {
  return std::make_unique<BeastConnection>(std::move(executor), std::move(config));
}

}  // namespace fs::http
