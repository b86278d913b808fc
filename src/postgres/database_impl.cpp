#include "postgres/database_impl.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <exception>
#include <stdexcept>
#include <utility>

#include "common/random.hpp"
#include "postgres/connection.hpp"

namespace fs::pg {

namespace asio = boost::asio;

namespace {

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kFirstBackoff{50};

// One of the `connections` places in the pool; its keeper coroutine (re)connects it.
struct Slot {
  explicit Slot(const asio::any_io_executor& executor) : wake(executor) {}
  asio::steady_timer wake;                 // backoff sleep, then "your connection was dropped"
  std::shared_ptr<Connection> connection;  // while connecting or up
  bool up = false;
};

// A caller queued for a free connection; woken by cancelling its timer.
struct Waiter {
  explicit Waiter(const asio::any_io_executor& executor) : timer(executor) {}
  asio::steady_timer timer;
  std::shared_ptr<Connection> connection;
  std::optional<Error> error;
};

// All state lives here, owned by shared_ptr from every coroutine that uses it, so destroying
// the Database while coroutines are suspended leaves them something valid to wake up to.
class Pool : public std::enable_shared_from_this<Pool> {
 public:
  Pool(asio::any_io_executor executor, DatabaseConfig config)
      : executor_(std::move(executor)), config_(std::move(config)) {}

  void start() {
    for (std::size_t i = 0; i < config_.connections; ++i) {
      auto slot = std::make_shared<Slot>(executor_);
      slots_.push_back(slot);
      asio::co_spawn(executor_, keep_slot(shared_from_this(), slot), asio::detached);
    }
  }

  const DatabaseConfig& config() const { return config_; }
  bool healthy() const { return live_ > 0; }
  bool closed() const { return closed_; }

  static asio::awaitable<Result<std::shared_ptr<Connection>>> lease(std::shared_ptr<Pool> pool) {
    if (pool->closed_) co_return Error{Errc::cancelled, "database closed"};
    // Most recently used first: under light load the same backend serves one statement after
    // another, its process and caches warm, instead of every idle backend in turn.
    while (!pool->idle_.empty()) {
      auto connection = std::move(pool->idle_.back());
      pool->idle_.pop_back();
      connection->stop_watching_idle();
      if (connection->reusable()) co_return connection;
      pool->drop(connection);
    }
    // Fail fast while PostgreSQL is unreachable rather than letting every caller wait out a
    // timeout; the keepers keep retrying in the background.
    if (pool->live_ == 0 && pool->last_connect_error_) {
      co_return Error{Errc::unavailable,
                      "no PostgreSQL connection: " + pool->last_connect_error_->message};
    }
    if (pool->waiters_.size() >= pool->config_.max_waiters) {
      co_return Error{Errc::overloaded, "too many callers waiting for a PostgreSQL connection"};
    }
    auto waiter = std::make_shared<Waiter>(pool->executor_);
    waiter->timer.expires_after(pool->config_.query_timeout);
    pool->waiters_.push_back(waiter);
    co_await waiter->timer.async_wait(kAsTuple);
    // A hand-off can race with the timer's expiry: the assigned connection wins.
    if (waiter->connection) co_return std::move(waiter->connection);
    if (waiter->error) co_return std::move(*waiter->error);
    std::erase(pool->waiters_, waiter);
    co_return Error{Errc::timeout, "no free PostgreSQL connection within query_timeout"};
  }

  void release(std::shared_ptr<Connection> connection) {
    if (closed_ || !connection->reusable()) {
      drop(connection);
      return;
    }
    if (!waiters_.empty()) {
      auto waiter = std::move(waiters_.front());
      waiters_.pop_front();
      waiter->connection = std::move(connection);
      waiter->timer.cancel();
      return;
    }
    idle_.push_back(connection);
    connection->watch_idle(
        [weak_pool = weak_from_this(), weak_connection = std::weak_ptr<Connection>(connection)] {
          auto pool = weak_pool.lock();
          auto lost = weak_connection.lock();
          if (pool && lost) pool->drop(lost);
        });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    for (auto& waiter : waiters_) {
      waiter->error = Error{Errc::cancelled, "database closed"};
      waiter->timer.cancel();
    }
    waiters_.clear();
    auto idle = std::move(idle_);
    idle_.clear();
    for (auto& connection : idle) drop(connection);
    for (auto& slot : slots_) {
      slot->up = false;
      slot->wake.cancel();
      // A leased or connecting connection: its coroutine wakes with Errc::cancelled and the
      // connection is dropped when it comes back.
      if (slot->connection) slot->connection->cancel();
    }
    live_ = 0;
  }

 private:
  void drop(const std::shared_ptr<Connection>& connection) {
    std::erase(idle_, connection);
    for (auto& slot : slots_) {
      if (slot->connection != connection) continue;
      slot->connection.reset();
      if (slot->up) {
        slot->up = false;
        --live_;
      }
      slot->wake.cancel();
    }
    connection->close();
  }

  void connected(const std::shared_ptr<Slot>& slot, std::shared_ptr<Connection> connection) {
    slot->up = true;
    ++live_;
    last_connect_error_.reset();
    release(std::move(connection));
  }

  void connect_failed(Error error) {
    last_connect_error_ = std::move(error);
    if (live_ > 0) return;
    // Nobody can be served until a connect succeeds: answer the queue now.
    auto waiters = std::move(waiters_);
    waiters_.clear();
    for (auto& waiter : waiters) {
      waiter->error =
          Error{Errc::unavailable, "no PostgreSQL connection: " + last_connect_error_->message};
      waiter->timer.cancel();
    }
  }

  std::chrono::milliseconds jittered(std::chrono::milliseconds backoff) {
    // Half fixed, half random, so a restarted server is not hit by every pool in lockstep.
    const auto half = std::max<std::int64_t>(backoff.count() / 2, 1);
    const auto spread = static_cast<std::int64_t>(SecureRandom::instance().next_u64() %
                                                  static_cast<std::uint64_t>(half));
    return std::chrono::milliseconds{half + spread};
  }

  static asio::awaitable<void> keep_slot(std::shared_ptr<Pool> pool, std::shared_ptr<Slot> slot) {
    auto backoff = kFirstBackoff;
    while (!pool->closed_) {
      auto connection = std::make_shared<Connection>(pool->executor_);
      slot->connection = connection;
      Status status =
          co_await connection->connect(pool->config_.conninfo, pool->config_.connect_timeout);
      if (pool->closed_) break;
      if (!status) {
        slot->connection.reset();
        connection->close();
        Error error = std::move(status).error();
        if (error.code == Errc::timeout) error.code = Errc::unavailable;
        pool->connect_failed(std::move(error));
        slot->wake.expires_after(pool->jittered(backoff));
        co_await slot->wake.async_wait(kAsTuple);
        backoff =
            std::min(backoff * 2, std::max(pool->config_.reconnect_backoff_max, kFirstBackoff));
        continue;
      }
      backoff = kFirstBackoff;
      pool->connected(slot, std::move(connection));
      // Sleep until drop() takes this slot's connection away (or close()).
      while (slot->up && !pool->closed_) {
        slot->wake.expires_at(asio::steady_timer::time_point::max());
        co_await slot->wake.async_wait(kAsTuple);
      }
    }
    slot->connection.reset();
  }

  asio::any_io_executor executor_;
  DatabaseConfig config_;
  std::vector<std::shared_ptr<Slot>> slots_;
  std::deque<std::shared_ptr<Connection>> idle_;
  std::deque<std::shared_ptr<Waiter>> waiters_;
  std::size_t live_ = 0;
  std::optional<Error> last_connect_error_;  // set while the latest connect attempt failed
  bool closed_ = false;
};

// Gives the connection back to the pool on every exit path of a coroutine.
class Lease {
 public:
  Lease(std::shared_ptr<Pool> pool, std::shared_ptr<Connection> connection)
      : pool_(std::move(pool)), connection_(std::move(connection)) {}
  ~Lease() {
    if (connection_) pool_->release(std::move(connection_));
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  Connection& operator*() const { return *connection_; }
  Connection* operator->() const { return connection_.get(); }
  const std::shared_ptr<Connection>& get() const { return connection_; }

 private:
  std::shared_ptr<Pool> pool_;
  std::shared_ptr<Connection> connection_;
};

class LeasedSession final : public Session {
 public:
  LeasedSession(std::shared_ptr<Connection> connection, std::chrono::milliseconds timeout)
      : connection_(std::move(connection)), timeout_(timeout) {}

  asio::awaitable<Result<Rows>> query(std::string_view sql, std::vector<Param> params) override {
    return connection_->query(std::string(sql), std::move(params), timeout_);
  }

 private:
  std::shared_ptr<Connection> connection_;
  std::chrono::milliseconds timeout_;
};

asio::awaitable<Result<Rows>> run_query(std::shared_ptr<Pool> pool, std::string sql,
                                        std::vector<Param> params) {
  auto leased = co_await Pool::lease(pool);
  if (!leased) co_return std::move(leased).error();
  Lease connection(pool, std::move(*leased));
  co_return co_await connection->query(std::move(sql), std::move(params),
                                       pool->config().query_timeout);
}

asio::awaitable<Result<void>> run_script(std::shared_ptr<Pool> pool, std::string sql) {
  auto leased = co_await Pool::lease(pool);
  if (!leased) co_return std::move(leased).error();
  Lease connection(pool, std::move(*leased));
  auto done = co_await connection->simple_query(std::move(sql), pool->config().query_timeout);
  if (!done) co_return std::move(done).error();
  co_return Status{};
}

asio::awaitable<Result<void>> run_transaction(
    std::shared_ptr<Pool> pool, std::function<asio::awaitable<Result<void>>(Session&)> fn,
    Database::Commit commit) {
  auto leased = co_await Pool::lease(pool);
  if (!leased) co_return std::move(leased).error();
  Lease connection(pool, std::move(*leased));
  const auto timeout = pool->config().query_timeout;

  // Both in one simple-query message: one round trip.
  std::string begin =
      commit == Database::Commit::deferred ? "BEGIN; SET LOCAL synchronous_commit = off" : "BEGIN";
  auto begun = co_await connection->simple_query(std::move(begin), timeout);
  if (!begun) co_return std::move(begun).error();

  LeasedSession session(connection.get(), timeout);
  Status body;
  try {
    body = co_await fn(session);
  } catch (...) {
    // A bug in fn: closing the connection makes the server roll back.
    connection->mark_broken();
    throw;
  }

  if (body && connection->in_failed_transaction()) {
    // fn swallowed a failed statement; COMMIT would silently turn into ROLLBACK.
    body = Error{Errc::backend_error, "a statement in the transaction failed; rolled back"};
  }
  if (!body) {
    if (!connection->broken()) {
      // If ROLLBACK fails the connection is marked broken and closed, which rolls back too.
      auto rolled_back = co_await connection->simple_query("ROLLBACK", timeout);
      (void)rolled_back;
    }
    co_return body;
  }
  auto committed = co_await connection->simple_query("COMMIT", timeout);
  if (!committed) co_return std::move(committed).error();
  co_return Status{};
}

class PooledDatabase final : public Database {
 public:
  PooledDatabase(asio::any_io_executor executor, DatabaseConfig config)
      : pool_(std::make_shared<Pool>(std::move(executor), std::move(config))) {
    pool_->start();
  }
  ~PooledDatabase() override { pool_->close(); }
  PooledDatabase(const PooledDatabase&) = delete;
  PooledDatabase& operator=(const PooledDatabase&) = delete;

  // Arguments are copied before the first suspension so callers' views may dangle afterwards.
  asio::awaitable<Result<Rows>> query(std::string_view sql, std::vector<Param> params) override {
    return run_query(pool_, std::string(sql), std::move(params));
  }

  asio::awaitable<Result<void>> execute_script(std::string_view sql) override {
    return run_script(pool_, std::string(sql));
  }

  asio::awaitable<Result<void>> transaction(
      std::function<asio::awaitable<Result<void>>(Session&)> fn, Commit commit) override {
    return run_transaction(pool_, std::move(fn), commit);
  }

  bool healthy() const override { return pool_->healthy(); }

  void close() override { pool_->close(); }

 private:
  std::shared_ptr<Pool> pool_;
};

}  // namespace

std::unique_ptr<Database> make_database(asio::any_io_executor executor, DatabaseConfig config) {
  if (config.connections == 0)
    throw std::invalid_argument("DatabaseConfig.connections must be > 0");
  if (config.conninfo.empty()) throw std::invalid_argument("DatabaseConfig.conninfo is empty");
  return std::make_unique<PooledDatabase>(std::move(executor), std::move(config));
}

}  // namespace fs::pg
