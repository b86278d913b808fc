// Pipelined Redis client: one connection, one writer coroutine that coalesces every command
// queued since its last write into one async_write, one reader coroutine that feeds hiredis and
// completes waiters in FIFO order. See redis_client.hpp for the contract.
#include "redis/redis_client_impl.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <deque>
#include <exception>

#include "common/random.hpp"
#include "redis/resp.hpp"

namespace fs::redis {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using WakeHandler = asio::any_completion_handler<void()>;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 64 * 1024;

// Background coroutines must not swallow bugs.
void rethrow_if_failed(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

// A command sent (or queued to be sent) on the current connection, waiting for its reply.
struct Pending {
  Pending(ReplyHandler h, SteadyClock::time_point d) : handler(std::move(h)), deadline(d) {}
  Pending(Pending&&) = default;
  // Boost 1.81's any_completion_handler move assignment recurses forever (it wraps the source in
  // a new handler instead of moving it); keep it unreachable.
  Pending& operator=(Pending&&) = delete;

  ReplyHandler handler;  // empty once timed out: a tombstone that only absorbs its reply
  SteadyClock::time_point deadline;
  // An EVALSHA that has not been retried: its script, to load on NOSCRIPT, and the command's
  // bytes, to send again after the load.
  const Script* script = nullptr;
  std::string resend;
};

// One TCP connection. Its reader and writer hold it by shared_ptr, so a connection that ended
// can finish its coroutines without touching the socket of its successor.
struct Session {
  explicit Session(const asio::any_io_executor& ex) : socket(ex), resolver(ex), connect_timer(ex) {}
  tcp::socket socket;
  tcp::resolver resolver;
  asio::steady_timer connect_timer;
  std::string writing;      // bytes handed to the current async_write
  WakeHandler writer_wake;  // set while the writer waits for bytes to send
  bool connecting = false;
  bool connect_timed_out = false;
  bool stuck = false;  // reset because a reply was long overdue
  bool ended = false;
};

class ClientState : public std::enable_shared_from_this<ClientState> {
 public:
  ClientState(asio::any_io_executor executor, ClientConfig config)
      : executor_(std::move(executor)),
        config_(std::move(config)),
        random_(config_.random != nullptr ? *config_.random : SecureRandom::instance()),
        backoff_timer_(executor_),
        sweep_timer_(executor_) {
    if (config_.stuck_reset_after.count() <= 0)
      config_.stuck_reset_after = 2 * config_.command_timeout;
    // Following a failover: the new master is usually up within a second of the sentinels'
    // decision, so retry often rather than back off to seconds.
    if (config_.sentinel.enabled())
      config_.reconnect_backoff_max =
          std::min(config_.reconnect_backoff_max, std::chrono::milliseconds{500});
  }

  bool connected() const { return phase_ == Phase::connected; }

  // Formats and queues one command. `args` is read before the caller is suspended, so it only
  // has to live until the returned awaitable is co_awaited (same full-expression is fine).
  asio::awaitable<Result<Reply>> execute(const std::vector<std::string>& args) {
    return asio::async_initiate<decltype(asio::use_awaitable), void(Result<Reply>)>(
        [self = shared_from_this(), &args](auto handler) {
          self->enqueue(ReplyHandler(std::move(handler)), args);
        },
        asio::use_awaitable);
  }

  // EVALSHA: see Client::eval.
  asio::awaitable<Result<Reply>> eval(const Script& script, std::span<const std::string_view> keys,
                                      std::span<const std::string_view> args) {
    return asio::async_initiate<decltype(asio::use_awaitable), void(Result<Reply>)>(
        [self = shared_from_this(), script = &script, keys, args](auto handler) {
          self->enqueue_eval(ReplyHandler(std::move(handler)), *script, keys, args);
        },
        asio::use_awaitable);
  }

  // EVALSHA with a plain completion handler: see Client::eval.
  void eval(const Script& script, std::span<const std::string_view> keys,
            std::span<const std::string_view> args, ReplyHandler done) {
    enqueue_eval(std::move(done), script, keys, args);
  }

  void close() {
    if (phase_ == Phase::closed) return;
    phase_ = Phase::closed;
    if (session_) end_session(session_);
    backoff_timer_.cancel();
    sweep_timer_.cancel();
    fail_all(Error{Errc::cancelled, "redis client closed"});
  }

 private:
  enum class Phase {
    idle,        // never used: the first command starts connecting
    connecting,  // first connect: commands queue up and are sent once connected
    connected,
    reconnecting,  // lost or never reached: commands fail fast until a reconnect succeeds
    closed,
  };

  void enqueue(ReplyHandler handler, const std::vector<std::string>& args) {
    if (!admit(handler)) return;
    if (!append_command(outgoing_, args)) {
      return complete(std::move(handler),
                      Error{Errc::internal, "redis client: cannot format command"});
    }
    push(std::move(handler));
  }

  void enqueue_eval(ReplyHandler handler, const Script& script,
                    std::span<const std::string_view> keys,
                    std::span<const std::string_view> args) {
    if (!admit(handler)) return;
    // EVALSHA sha numkeys keys... args..., formatted from views: no argument is copied first.
    constexpr std::size_t kInline = 24;
    const std::size_t argc = 3 + keys.size() + args.size();
    std::array<std::string_view, kInline> inline_argv;
    std::vector<std::string_view> heap_argv;
    std::string_view* argv = inline_argv.data();
    if (argc > kInline) {
      heap_argv.resize(argc);
      argv = heap_argv.data();
    }
    char numkeys[24];
    const auto end = std::to_chars(numkeys, numkeys + sizeof numkeys, keys.size()).ptr;
    argv[0] = "EVALSHA";
    argv[1] = script.sha1;
    argv[2] = std::string_view(numkeys, static_cast<std::size_t>(end - numkeys));
    std::copy(keys.begin(), keys.end(), argv + 3);
    std::copy(args.begin(), args.end(), argv + 3 + keys.size());
    const std::size_t start = outgoing_.size();
    if (!append_command(outgoing_, std::span<const std::string_view>(argv, argc))) {
      return complete(std::move(handler),
                      Error{Errc::internal, "redis client: cannot format command"});
    }
    Pending& p = push(std::move(handler));
    p.script = &script;
    p.resend.assign(outgoing_, start, std::string::npos);
  }

  // The phase and in-flight checks every command passes; false once `handler` was completed.
  bool admit(ReplyHandler& handler) {
    switch (phase_) {
      case Phase::closed:
        complete(std::move(handler), Error{Errc::cancelled, "redis client closed"});
        return false;
      case Phase::reconnecting:
        complete(std::move(handler), Error{Errc::unavailable, unavailable_reason_});
        return false;
      case Phase::idle:
        start();
        break;
      case Phase::connecting:
      case Phase::connected:
        break;
    }
    if (fifo_.size() >= config_.max_in_flight) {
      complete(std::move(handler),
               Error{Errc::overloaded, "redis client: too many commands in flight"});
      return false;
    }
    return true;
  }

  // Queues the waiter of the command just appended to outgoing_ and wakes the writer.
  Pending& push(ReplyHandler handler) {
    fifo_.emplace_back(std::move(handler), SteadyClock::now() + config_.command_timeout);
    if (session_ && session_->writer_wake) {
      asio::post(executor_, std::move(session_->writer_wake));
    }
    return fifo_.back();
  }

  // The script of `p` is missing on the server (restarted, flushed, or a replica promoted):
  // SCRIPT LOAD and the same EVALSHA again, back to back on this connection, so Redis runs them
  // in that order. The retry is not retried: a second NOSCRIPT reaches the caller.
  void resend_after_load(Pending p) {
    const std::array<std::string_view, 3> load{"SCRIPT", "LOAD", p.script->source};
    if (!append_command(outgoing_, load))
      return complete(std::move(p.handler),
                      Error{Errc::internal, "redis client: cannot format command"});
    push(ReplyHandler([](Result<Reply>) {}));  // the EVALSHA's reply tells how the load went
    outgoing_.append(p.resend);
    push(std::move(p.handler));
  }

  // Waiters always resume from the executor queue, never inline: the reader keeps draining its
  // buffer and a resumed caller cannot re-enter the client in the middle of an update.
  void complete(ReplyHandler handler, Result<Reply> result) {
    asio::post(executor_, [h = std::move(handler), r = std::move(result)]() mutable {
      std::move(h)(std::move(r));
    });
  }

  using Completions = std::vector<std::pair<ReplyHandler, Result<Reply>>>;

  // The replies of one read, handed to their waiters by one posted handler (not one post each):
  // still from the executor queue, never inline, for the reason complete() gives.
  void deliver(Completions done) {
    if (done.empty()) return;
    asio::post(executor_, [done = std::move(done)]() mutable {
      for (auto& [handler, result] : done) std::move(handler)(std::move(result));
    });
  }

  void fail_all(const Error& error) {
    std::deque<Pending> failed;
    failed.swap(fifo_);
    tombstones_ = 0;
    outgoing_.clear();
    for (auto& p : failed) {
      if (p.handler) complete(std::move(p.handler), error);
    }
  }

  void start() {
    phase_ = Phase::connecting;
    auto self = shared_from_this();
    asio::co_spawn(executor_, self->run_connection(self), rethrow_if_failed);
    asio::co_spawn(executor_, self->run_sweeper(self), rethrow_if_failed);
  }

  void end_session(const std::shared_ptr<Session>& s) {
    s->ended = true;
    boost::system::error_code ignored;
    s->socket.close(ignored);
    s->resolver.cancel();
    s->connect_timer.cancel();
    if (s->writer_wake) asio::post(executor_, std::move(s->writer_wake));
    if (session_ == s) session_.reset();
  }

  std::chrono::milliseconds jittered(std::chrono::milliseconds backoff) {
    // Jitter spreads the reconnects of many clients so a restarted Redis is not stampeded.
    auto half = std::max<std::int64_t>(backoff.count() / 2, 1);
    return std::chrono::milliseconds{
        half +
        static_cast<std::int64_t>(random_.next_u64() % static_cast<std::uint64_t>(half + 1))};
  }

  asio::awaitable<void> run_connection(std::shared_ptr<ClientState> self) {
    auto backoff = config_.reconnect_backoff_min;
    while (phase_ != Phase::closed) {
      auto session = std::make_shared<Session>(executor_);
      session_ = session;
      Status connected = co_await connect(session);
      if (phase_ == Phase::closed) co_return;
      if (connected.ok()) {
        phase_ = Phase::connected;
        backoff = config_.reconnect_backoff_min;
        asio::co_spawn(executor_, write_loop(self, session), rethrow_if_failed);
        std::string reason = co_await read_loop(session);
        if (phase_ == Phase::closed) co_return;
        unavailable_reason_ = "redis connection lost: " + reason;
      } else {
        unavailable_reason_ = connected.error().message;
      }
      end_session(session);
      phase_ = Phase::reconnecting;
      fail_all(Error{Errc::unavailable, unavailable_reason_});
      backoff_timer_.expires_after(jittered(backoff));
      co_await backoff_timer_.async_wait(kNoThrow);
      backoff = std::min(backoff * 2, config_.reconnect_backoff_max);
    }
  }

  asio::awaitable<Status> connect(std::shared_ptr<Session> s) {
    std::string host = config_.host;
    std::uint16_t port = config_.port;
    if (config_.sentinel.enabled()) {
      auto master = co_await resolve_master();
      if (phase_ == Phase::closed || s->ended)
        co_return Error{Errc::unavailable, "redis connect aborted"};
      if (!master) co_return std::move(master).error();
      host = master->host;
      port = master->port;
    }
    s->connecting = true;
    s->connect_timer.expires_after(config_.connect_timeout);
    s->connect_timer.async_wait([s](boost::system::error_code ec) {
      if (ec || !s->connecting) return;
      s->connect_timed_out = true;
      boost::system::error_code ignored;
      s->socket.close(ignored);
      s->resolver.cancel();
    });
    boost::system::error_code ec;
    auto address = asio::ip::make_address(host, ec);
    if (!ec) {
      std::tie(ec) = co_await s->socket.async_connect(tcp::endpoint(address, port), kNoThrow);
    } else {
      const std::string service = std::to_string(port);
      auto [resolve_ec, endpoints] = co_await s->resolver.async_resolve(host, service, kNoThrow);
      ec = resolve_ec;
      if (!ec && !s->connect_timed_out && !s->ended) {
        std::tie(ec, std::ignore) = co_await asio::async_connect(s->socket, endpoints, kNoThrow);
      }
    }
    std::string where = host + ":" + std::to_string(port);
    if (!ec && !s->connect_timed_out && !s->ended && config_.sentinel.enabled()) {
      // The sentinels' answer may be stale (a failover in progress, a demoted master that came
      // back): only a server that says it is the master is used. Still under the connect timer.
      std::vector<std::string> role{"ROLE"};
      auto r = co_await exchange(s->socket, role);
      if (!s->connect_timed_out && !s->ended) {
        if (!r) {
          s->connecting = false;
          s->connect_timer.cancel();
          co_return Error{Errc::unavailable, "redis ROLE on " + where + ": " + r.error().message};
        }
        auto is_master = role_is_master(*r);
        if (!is_master || !*is_master) {
          s->connecting = false;
          s->connect_timer.cancel();
          co_return Error{Errc::unavailable, "redis " + where + " is not the master of " +
                                                 config_.sentinel.master_name + " (yet)"};
        }
      }
    }
    s->connecting = false;
    s->connect_timer.cancel();
    if (s->connect_timed_out)
      co_return Error{Errc::unavailable, "redis connect to " + where + " timed out"};
    if (s->ended) co_return Error{Errc::unavailable, "redis connect to " + where + " aborted"};
    if (ec) co_return Error{Errc::unavailable, "redis connect to " + where + ": " + ec.message()};
    s->socket.set_option(tcp::no_delay(true), ec);
    co_return Status{};
  }

  // Writes one command on `socket` and reads its one reply (connection set-up only: nothing else
  // is in flight on the socket). The caller bounds it with a timer that closes the socket.
  static asio::awaitable<Result<Reply>> exchange(tcp::socket& socket,
                                                 const std::vector<std::string>& args) {
    std::string out;
    if (!append_command(out, args)) co_return Error{Errc::internal, "cannot format command"};
    auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(out), kNoThrow);
    (void)wn;
    if (wec) co_return Error{Errc::unavailable, wec.message()};
    ReplyReader reader;
    char buf[4096];
    while (true) {
      auto [rec, n] = co_await socket.async_read_some(asio::buffer(buf, sizeof buf), kNoThrow);
      if (rec) co_return Error{Errc::unavailable, rec.message()};
      if (!reader.feed(buf, n)) co_return Error{Errc::protocol_error, reader.failure()};
      if (auto reply = reader.next()) co_return std::move(*reply);
      if (reader.failed()) co_return Error{Errc::protocol_error, reader.failure()};
    }
  }

  // One question to one sentinel on a connection of its own, within connect_timeout.
  asio::awaitable<Result<Reply>> ask_sentinel(Address sentinel, std::vector<std::string> args) {
    struct Probe {
      explicit Probe(const asio::any_io_executor& ex) : socket(ex), resolver(ex), timer(ex) {}
      tcp::socket socket;
      tcp::resolver resolver;
      asio::steady_timer timer;
      bool done = false;
      bool timed_out = false;
    };
    auto probe = std::make_shared<Probe>(executor_);
    probe->timer.expires_after(config_.connect_timeout);
    probe->timer.async_wait([probe](boost::system::error_code ec) {
      if (ec || probe->done) return;
      probe->timed_out = true;
      boost::system::error_code ignored;
      probe->socket.close(ignored);
      probe->resolver.cancel();
    });
    boost::system::error_code ec;
    auto address = asio::ip::make_address(sentinel.host, ec);
    if (!ec) {
      std::tie(ec) =
          co_await probe->socket.async_connect(tcp::endpoint(address, sentinel.port), kNoThrow);
    } else {
      const std::string service = std::to_string(sentinel.port);
      auto [rec, endpoints] =
          co_await probe->resolver.async_resolve(sentinel.host, service, kNoThrow);
      ec = rec;
      if (!ec && !probe->timed_out)
        std::tie(ec, std::ignore) =
            co_await asio::async_connect(probe->socket, endpoints, kNoThrow);
    }
    Result<Reply> reply = Error{Errc::unavailable, "sentinel " + sentinel.to_string() + " " +
                                                       (ec ? ec.message() : "timed out")};
    if (!ec && !probe->timed_out) reply = co_await exchange(probe->socket, args);
    probe->done = true;
    probe->timer.cancel();
    boost::system::error_code ignored;
    probe->socket.close(ignored);
    if (probe->timed_out)
      co_return Error{Errc::unavailable, "sentinel " + sentinel.to_string() + " timed out"};
    co_return reply;
  }

  // Asks the sentinels, the last one that answered first, for the master's address.
  asio::awaitable<Result<Address>> resolve_master() {
    std::string last_error = "no sentinel configured";
    for (std::size_t i : rotation_.order()) {
      if (phase_ == Phase::closed) co_return Error{Errc::cancelled, "redis client closed"};
      std::vector<std::string> ask{"SENTINEL", "get-master-addr-by-name",
                                   config_.sentinel.master_name};
      Address sentinel = config_.sentinel.sentinels[i];
      auto reply = co_await ask_sentinel(sentinel, std::move(ask));
      Result<Address> master =
          reply ? master_address_from_reply(*reply) : Result<Address>(std::move(reply).error());
      if (master) {
        rotation_.answered(i);
        co_return master;
      }
      rotation_.failed(i);
      last_error = master.error().message;
    }
    co_return Error{Errc::unavailable, "no sentinel gave the master of " +
                                           config_.sentinel.master_name + ": " + last_error};
  }

  // Returns why the connection ended.
  asio::awaitable<std::string> read_loop(std::shared_ptr<Session> s) {
    ReplyReader reader;
    auto buffer = std::make_unique<char[]>(kReadChunk);
    while (true) {
      auto [ec, n] =
          co_await s->socket.async_read_some(asio::buffer(buffer.get(), kReadChunk), kNoThrow);
      if (phase_ == Phase::closed || s->ended) co_return "closed";
      if (s->stuck)
        co_return "reset after a reply was overdue by " +
            std::to_string(config_.stuck_reset_after.count()) + " ms";
      if (ec) co_return ec.message();
      if (!reader.feed(buffer.get(), n)) co_return "protocol error: " + reader.failure();
      Completions done;
      const char* ended = nullptr;  // why the connection ends, once the replies read are handed out
      while (auto reply = reader.next()) {
        if (fifo_.empty()) {
          ended = "reply without a pending command";
          break;
        }
        Pending p = std::move(fifo_.front());
        fifo_.pop_front();
        if (tombstones_ > 0) --tombstones_;  // tombstones are always a prefix of the FIFO
        const bool demoted =
            config_.sentinel.enabled() && !reply->ok() && means_not_master(reply->error().message);
        if (p.handler && p.script != nullptr && !reply->ok() &&
            reply->error().message.starts_with("NOSCRIPT")) {
          resend_after_load(std::move(p));
          continue;
        }
        if (p.handler) done.emplace_back(std::move(p.handler), std::move(*reply));
        if (demoted) {  // the server is not the master any more (failover): resolve again
          ended = "the server is no longer the master";
          break;
        }
      }
      deliver(std::move(done));
      if (ended != nullptr) co_return ended;
      if (reader.failed()) co_return "protocol error: " + reader.failure();
    }
  }

  asio::awaitable<void> write_loop(std::shared_ptr<ClientState> self, std::shared_ptr<Session> s) {
    while (!s->ended) {
      if (outgoing_.empty()) {
        // A raw pointer, not a shared_ptr copy: GCC 12 may destroy temporaries of a co_await
        // expression twice, which is only harmless for trivially destructible ones.
        Session* session = s.get();
        co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
            [session](auto handler) {
              WakeHandler wake(std::move(handler));
              session->writer_wake.swap(wake);  // not operator=: see Pending
            },
            asio::use_awaitable);
        continue;
      }
      s->writing.clear();
      s->writing.swap(outgoing_);
      auto [ec, n] = co_await asio::async_write(s->socket, asio::buffer(s->writing), kNoThrow);
      if (ec) {
        // The reader sees the closed socket and ends the session in one place.
        boost::system::error_code ignored;
        s->socket.close(ignored);
        co_return;
      }
    }
    (void)self;
  }

  // Times out overdue commands. Deadlines grow along the FIFO (constant timeout), so the timed-out
  // entries are always a prefix and one timer aimed at the oldest live deadline suffices.
  asio::awaitable<void> run_sweeper(std::shared_ptr<ClientState> self) {
    while (phase_ != Phase::closed) {
      auto now = SteadyClock::now();
      while (tombstones_ < fifo_.size() && fifo_[tombstones_].deadline <= now) {
        complete(std::move(fifo_[tombstones_].handler),
                 Error{Errc::timeout, "redis command got no reply within " +
                                          std::to_string(config_.command_timeout.count()) + " ms"});
        ++tombstones_;
      }
      auto stuck_at = [&] {
        return fifo_.front().deadline - config_.command_timeout + config_.stuck_reset_after;
      };
      if (tombstones_ > 0 && phase_ == Phase::connected && session_ && stuck_at() <= now) {
        boost::system::error_code ignored;
        session_->stuck = true;
        session_->socket.close(ignored);  // the reader ends the session and reconnects
      }
      auto wake =
          tombstones_ < fifo_.size() ? fifo_[tombstones_].deadline : now + config_.command_timeout;
      if (tombstones_ > 0 && stuck_at() > now) wake = std::min(wake, stuck_at());
      sweep_timer_.expires_at(wake);
      co_await sweep_timer_.async_wait(kNoThrow);
    }
    (void)self;
  }

  asio::any_io_executor executor_;
  ClientConfig config_;
  Random& random_;
  asio::steady_timer backoff_timer_;
  asio::steady_timer sweep_timer_;
  Phase phase_ = Phase::idle;
  std::string unavailable_reason_ = "redis not connected";
  std::shared_ptr<Session> session_;
  std::string outgoing_;  // formatted commands not yet handed to the writer
  std::deque<Pending> fifo_;
  std::size_t tombstones_ = 0;
  SentinelRotation rotation_{config_.sentinel.sentinels.size()};
};

class PipelinedClient final : public Client {
 public:
  PipelinedClient(asio::any_io_executor executor, ClientConfig config)
      : state_(std::make_shared<ClientState>(std::move(executor), std::move(config))) {}
  ~PipelinedClient() override { state_->close(); }

  // Each call copies state_ into its frame: a caller may still be suspended here when the
  // PipelinedClient is destroyed, and resumes without touching `this`.
  asio::awaitable<Result<Reply>> command(std::vector<std::string> args) override {
    auto state = state_;
    co_return co_await state->execute(args);
  }

  using Client::eval;
  asio::awaitable<Result<Reply>> eval(const Script& script, std::span<const std::string_view> keys,
                                      std::span<const std::string_view> args) override {
    return state_->eval(script, keys, args);
  }
  void eval(const Script& script, std::span<const std::string_view> keys,
            std::span<const std::string_view> args, ReplyHandler done) override {
    state_->eval(script, keys, args, std::move(done));
  }

  bool connected() const override { return state_->connected(); }
  void close() override { state_->close(); }

 private:
  std::shared_ptr<ClientState> state_;
};

}  // namespace

boost::asio::awaitable<Result<Reply>> Client::eval(const Script& script,
                                                   std::vector<std::string> keys,
                                                   std::vector<std::string> args) {
  std::vector<std::string_view> k(keys.begin(), keys.end());
  std::vector<std::string_view> a(args.begin(), args.end());
  co_return co_await eval(script, std::span<const std::string_view>(k),
                          std::span<const std::string_view>(a));
}

std::unique_ptr<Client> make_client(asio::any_io_executor executor, ClientConfig config) {
  return std::make_unique<PipelinedClient>(std::move(executor), std::move(config));
}

}  // namespace fs::redis
