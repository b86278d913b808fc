#pragma once
// Async Redis client interface. One client is bound to one executor (one io_context thread) and
// is not thread-safe; many commands may be in flight at once and are pipelined on one connection.
// Replies are parsed with hiredis' RESP reader; commands are formatted with hiredis' formatter.
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "redis/sentinel.hpp"

namespace fs {
class Random;
}

namespace fs::redis {

struct Reply {
  enum class Type { string, array, integer, nil, status, error };
  Type type = Type::nil;
  std::string str;              // string, status and error replies
  long long integer = 0;        // integer replies
  std::vector<Reply> elements;  // array replies

  bool is_nil() const { return type == Type::nil; }
};

// A Lua script identified by its SHA1; eval() uses EVALSHA and loads it on NOSCRIPT.
struct Script {
  explicit Script(std::string source);
  std::string source;
  std::string sha1;  // lowercase hex
};

// Receives one command's reply (see Client::eval).
using ReplyHandler = boost::asio::any_completion_handler<void(Result<Reply>)>;

struct ClientConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  // With sentinels, host/port are ignored: every (re)connect asks the sentinels for the master
  // of sentinel.master_name and checks ROLE on the server reached; a READONLY/MASTERDOWN reply
  // or an overdue reply drops the connection so the next one resolves again. Between losing the
  // master and reaching the new one, commands fail fast with Errc::unavailable.
  SentinelConfig sentinel;
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds command_timeout{1000};
  std::chrono::milliseconds reconnect_backoff_min{50};
  std::chrono::milliseconds reconnect_backoff_max{2000};
  std::size_t max_in_flight = 65536;  // beyond this, command() fails fast with Errc::overloaded
  // When the oldest unanswered command is this old the connection is presumed stuck (e.g. a
  // black-holed peer) and is reset; zero means 2 x command_timeout.
  std::chrono::milliseconds stuck_reset_after{0};
  // Source of reconnect jitter; nullptr means fs::SecureRandom::instance(). Must outlive the
  // client.
  Random* random = nullptr;
};

class Client {
 public:
  virtual ~Client() = default;

  // Sends one command. Errors: Errc::unavailable (not connected / connection lost before the
  // reply), Errc::timeout (no reply within command_timeout: the outcome is unknown),
  // Errc::backend_error (Redis answered -ERR ...; message holds Redis' text).
  virtual boost::asio::awaitable<Result<Reply>> command(std::vector<std::string> args) = 0;

  // command("SET", key, value): the same, with the arguments listed. Prefer this form inside
  // coroutines: GCC 12 rejects a braced list inside co_await ("array used as initializer"), so
  // `co_await client.command({"GET", key})` does not compile there.
  template <class... Args>
  requires(sizeof...(Args) > 0 &&
           (std::is_convertible_v<const Args&, std::string_view> &&
            ...)) boost::asio::awaitable<Result<Reply>> command(Args&&... args) {
    std::vector<std::string> argv;
    argv.reserve(sizeof...(Args));
    (argv.emplace_back(std::forward<Args>(args)), ...);
    return command(std::move(argv));
  }

  // EVALSHA script keys... args...; on NOSCRIPT the client sends SCRIPT LOAD and the same
  // EVALSHA again, once. The command is formatted when the returned awaitable is co_awaited,
  // before the caller suspends: `script` must outlive the call, and `keys`, `args` and what they
  // view only have to live until the co_await (locals of the calling coroutine are fine). No
  // coroutine frame of the client's own stands between the caller and the reply.
  virtual boost::asio::awaitable<Result<Reply>> eval(const Script& script,
                                                     std::span<const std::string_view> keys,
                                                     std::span<const std::string_view> args) = 0;

  // The same for a caller that is not a coroutine: the command is formatted within this call
  // (keys, args and what they view only have to live through it), and `done` gets the reply
  // from the executor's queue, never inline.
  virtual void eval(const Script& script, std::span<const std::string_view> keys,
                    std::span<const std::string_view> args, ReplyHandler done) = 0;

  // The same with owned arguments, kept in this coroutine's frame until they are formatted.
  boost::asio::awaitable<Result<Reply>> eval(const Script& script, std::vector<std::string> keys,
                                             std::vector<std::string> args);

  // True while a connection is established.
  virtual bool connected() const = 0;

  // Closes the connection and stops reconnecting; pending commands fail with Errc::cancelled.
  virtual void close() = 0;
};

}  // namespace fs::redis
