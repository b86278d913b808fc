#pragma once
// Async PostgreSQL access (libpq in non-blocking mode driven by Asio; never blocks an I/O thread).
// A Database is bound to one executor (one io_context thread) and owns a small connection pool.
// Call it only from that thread, and destroy it (or close() it) before its io_context; callers
// suspended at that point resume with Errc::cancelled. Broken connections are replaced in the
// background with jittered exponential backoff; while none can be made, calls fail at once with
// Errc::unavailable. Implementation: database_impl.cpp (pool), connection.cpp (one libpq conn).
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace fs::pg {

using Param = std::optional<std::string>;  // text-format parameter; nullopt is SQL NULL

// The rows of one statement, copied out of the PGresult (text format).
class Rows {
 public:
  std::size_t size() const { return rows_; }
  std::size_t columns() const { return names_.size(); }
  bool empty() const { return rows_ == 0; }
  std::string_view get(std::size_t row, std::size_t col) const;
  bool is_null(std::size_t row, std::size_t col) const;
  int column(std::string_view name) const;  // -1 when absent
  std::string_view get(std::size_t row, std::string_view name) const;
  long long affected() const { return affected_; }  // PQcmdTuples

  // Filled by the implementation.
  std::vector<std::string> names_;
  std::vector<std::string> cells_;  // row-major
  std::vector<bool> nulls_;
  std::size_t rows_ = 0;
  long long affected_ = 0;
};

struct DatabaseConfig {
  std::string conninfo;  // libpq connection string
  std::size_t connections = 4;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds query_timeout{2000};
  std::chrono::milliseconds reconnect_backoff_max{2000};
  std::size_t max_waiters = 100000;  // callers queued for a free connection before Errc::overloaded
};

// A leased connection inside a transaction (see Database::transaction).
class Session {
 public:
  virtual ~Session() = default;
  virtual boost::asio::awaitable<Result<Rows>> query(std::string_view sql,
                                                     std::vector<Param> params = {}) = 0;
};

class Database {
 public:
  virtual ~Database() = default;

  // One statement with parameters on a free pooled connection. Statements are prepared once per
  // connection and cached by SQL text. Waiting for a free connection and running the statement
  // are each bounded by query_timeout; on a timeout the connection is discarded (the server may
  // still finish the statement) and replaced. Errors: Errc::unavailable (connection broken / server
  // down), Errc::timeout, Errc::unique_violation (23505), Errc::serialization_failure
  // (40001, 40P01), Errc::backend_error (other SQL errors; message has SQLSTATE and text),
  // Errc::overloaded (too many waiters).
  virtual boost::asio::awaitable<Result<Rows>> query(std::string_view sql,
                                                     std::vector<Param> params = {}) = 0;

  // Several statements without parameters (simple query protocol), e.g. a migration.
  virtual boost::asio::awaitable<Result<void>> execute_script(std::string_view sql) = 0;

  // BEGIN; fn(session); COMMIT — ROLLBACK when fn returns an error or the connection fails.
  // Returns fn's error, or COMMIT's (e.g. a deferred unique_violation). If fn swallows a failed
  // statement and returns success, the transaction is rolled back and Errc::backend_error
  // returned. The Session is valid only until fn's awaitable completes.
  // Commit::durable waits for the commit's WAL flush (the server's synchronous_commit);
  // Commit::deferred does not (SET LOCAL synchronous_commit = off, sent with BEGIN in one round
  // trip): the commit returns at once and is flushed with the next durable commit or by the WAL
  // writer within wal_writer_delay, so a server crash in between may undo it — only for work that
  // is safe to redo (the outbox relay's deletes: the rows are published again, at least once).
  enum class Commit { durable, deferred };
  virtual boost::asio::awaitable<Result<void>> transaction(
      std::function<boost::asio::awaitable<Result<void>>(Session&)> fn,
      Commit commit = Commit::durable) = 0;

  // True while at least one connection is up.
  virtual bool healthy() const = 0;

  virtual void close() = 0;
};

}  // namespace fs::pg
