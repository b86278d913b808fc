#pragma once
// One libpq connection in non-blocking mode whose every wait is an async_wait on its socket, so
// no call here ever blocks the I/O thread. Internal to src/postgres (pulls in Asio headers).
// Not thread-safe: used only on the executor it was created with. Callers keep it alive through a
// shared_ptr for as long as one of its coroutines is running.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/result.hpp"
#include "postgres/database.hpp"

struct pg_conn;

namespace fs::pg {

// Prepared-statement name for a SQL text: stable across runs, so pg_stat views stay readable.
std::string statement_name(std::string_view sql);

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  explicit Connection(boost::asio::any_io_executor executor);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // PQconnectStart + PQconnectPoll within `timeout` (libpq ignores connect_timeout in this mode).
  boost::asio::awaitable<Status> connect(std::string conninfo, std::chrono::milliseconds timeout);

  // Extended protocol: prepares `sql` once per connection, then executes it with text params.
  // On timeout the connection is left broken (the server may still be running the statement).
  boost::asio::awaitable<Result<Rows>> query(std::string sql, std::vector<Param> params,
                                             std::chrono::milliseconds timeout);

  // Simple protocol (several statements allowed, no params); rows of the last statement.
  boost::asio::awaitable<Result<Rows>> simple_query(std::string sql,
                                                    std::chrono::milliseconds timeout);

  // Open, not broken and outside any transaction: fit to go back to the pool.
  bool reusable() const;
  bool broken() const { return broken_; }
  bool in_failed_transaction() const;
  void mark_broken() { broken_ = true; }

  // While pooled: watches the socket so a server that goes away is noticed without a query.
  // `on_lost` runs (on the executor) when the connection turns out to be dead.
  void watch_idle(std::function<void()> on_lost);
  void stop_watching_idle();

  // Wakes a suspended operation, which then fails with Errc::cancelled (pool close).
  void cancel();

  // Releases the socket from Asio (libpq owns the fd) and PQfinish()es.
  void close();

 private:
  enum class Abort { none, timeout, cancelled };
  class Deadline;

  void attach_socket();
  boost::asio::awaitable<std::optional<Error>> wait(bool for_write);
  boost::asio::awaitable<Result<Rows>> finish_command();
  Error abort_error() const;
  Error connection_error(std::string_view context);
  void arm_deadline(std::chrono::milliseconds timeout);
  void disarm_deadline();

  boost::asio::any_io_executor executor_;
  pg_conn* pg_ = nullptr;
  std::optional<boost::asio::posix::stream_descriptor> socket_;
  boost::asio::steady_timer deadline_;
  std::uint64_t deadline_id_ = 0;
  std::uint64_t idle_watch_id_ = 0;
  Abort abort_ = Abort::none;
  bool broken_ = false;
  std::unordered_map<std::string, std::string> statements_;  // SQL text → prepared name
  std::unordered_set<std::string> statement_names_;
};

}  // namespace fs::pg
