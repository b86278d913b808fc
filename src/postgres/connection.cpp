#include "postgres/connection.hpp"

#include <libpq-fe.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "postgres/sqlstate.hpp"

namespace fs::pg {

namespace asio = boost::asio;

namespace {

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxCachedStatements = 1024;

struct ResultDeleter {
  void operator()(PGresult* res) const { PQclear(res); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

std::string trimmed(const char* text) {
  std::string out = text ? text : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

Error error_from_result(const PGresult* res) {
  const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  const char* primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  const std::string message = primary ? std::string(primary) : trimmed(PQresultErrorMessage(res));
  return error_from_sqlstate(state ? state : "", message);
}

// libpq's default prints notices (and FATALs on a dying connection) to stderr; the errors that
// matter reach callers as Results, so the rest is dropped instead of polluting service logs.
void ignore_notice(void*, const PGresult*) {}

Rows copy_rows(PGresult* res) {
  Rows rows;
  const int columns = PQnfields(res);
  const int count = PQntuples(res);
  rows.names_.reserve(static_cast<std::size_t>(columns));
  for (int c = 0; c < columns; ++c) rows.names_.emplace_back(PQfname(res, c));
  const auto cells = static_cast<std::size_t>(columns) * static_cast<std::size_t>(count);
  rows.cells_.reserve(cells);
  rows.nulls_.reserve(cells);
  for (int r = 0; r < count; ++r) {
    for (int c = 0; c < columns; ++c) {
      if (PQgetisnull(res, r, c)) {
        rows.cells_.emplace_back();
        rows.nulls_.push_back(true);
      } else {
        rows.cells_.emplace_back(PQgetvalue(res, r, c),
                                 static_cast<std::size_t>(PQgetlength(res, r, c)));
        rows.nulls_.push_back(false);
      }
    }
  }
  rows.rows_ = static_cast<std::size_t>(count);
  const char* tuples = PQcmdTuples(res);
  rows.affected_ = (tuples && *tuples) ? std::strtoll(tuples, nullptr, 10) : 0;
  return rows;
}

}  // namespace

std::string statement_name(std::string_view sql) {
  std::uint64_t hash = 14695981039346656037ull;  // FNV-1a 64
  for (unsigned char ch : sql) {
    hash ^= ch;
    hash *= 1099511628211ull;
  }
  char name[24];
  std::snprintf(name, sizeof name, "fs_%016llx", static_cast<unsigned long long>(hash));
  return name;
}

// Bounds one operation; the timer handler knows it is stale when the id moved on.
class Connection::Deadline {
 public:
  Deadline(Connection& connection, std::chrono::milliseconds timeout) : connection_(connection) {
    connection_.arm_deadline(timeout);
  }
  ~Deadline() { connection_.disarm_deadline(); }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

 private:
  Connection& connection_;
};

Connection::Connection(asio::any_io_executor executor)
    : executor_(std::move(executor)), deadline_(executor_) {}

Connection::~Connection() { close(); }

void Connection::arm_deadline(std::chrono::milliseconds timeout) {
  const std::uint64_t id = ++deadline_id_;
  deadline_.expires_after(timeout);
  deadline_.async_wait([weak = weak_from_this(), id](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!self || ec || self->deadline_id_ != id) return;
    if (self->abort_ == Abort::none) self->abort_ = Abort::timeout;
    self->broken_ = true;
    // Only wakes the waiting coroutine; PQcancel would block this thread on a new connection.
    boost::system::error_code ignored;
    if (self->socket_) self->socket_->cancel(ignored);
  });
}

void Connection::disarm_deadline() {
  ++deadline_id_;
  deadline_.cancel();
}

void Connection::attach_socket() {
  // libpq may open a new socket (even under a recycled fd number) between connect steps, so
  // the registration with the reactor is redone rather than trusted.
  if (socket_) {
    socket_->release();
    socket_.reset();
  }
  const int fd = pg_ ? PQsocket(pg_) : -1;
  if (fd < 0) return;
  socket_.emplace(executor_);
  boost::system::error_code ec;
  socket_->assign(fd, ec);
  if (ec) socket_.reset();
}

Error Connection::abort_error() const {
  if (abort_ == Abort::timeout) return Error{Errc::timeout, "PostgreSQL did not answer in time"};
  return Error{Errc::cancelled, "database closed"};
}

Error Connection::connection_error(std::string_view context) {
  // libpq-side failures leave the protocol state unknown: never reuse the connection.
  broken_ = true;
  std::string message(context);
  message += ": ";
  message += pg_ ? trimmed(PQerrorMessage(pg_)) : std::string("no connection");
  if (!pg_ || PQstatus(pg_) == CONNECTION_BAD) return Error{Errc::unavailable, std::move(message)};
  return Error{Errc::backend_error, std::move(message)};
}

asio::awaitable<std::optional<Error>> Connection::wait(bool for_write) {
  if (abort_ != Abort::none) co_return abort_error();
  if (!socket_) {
    broken_ = true;
    co_return Error{Errc::unavailable, "connection closed"};
  }
  auto [ec] = co_await socket_->async_wait(for_write ? asio::posix::descriptor_base::wait_write
                                                     : asio::posix::descriptor_base::wait_read,
                                           kAsTuple);
  if (abort_ != Abort::none) {
    broken_ = true;
    co_return abort_error();
  }
  if (ec) {
    broken_ = true;
    co_return Error{Errc::unavailable, "socket wait failed: " + ec.message()};
  }
  co_return std::nullopt;
}

asio::awaitable<Status> Connection::connect(std::string conninfo,
                                            std::chrono::milliseconds timeout) {
  pg_ = PQconnectStart(conninfo.c_str());
  if (!pg_) co_return Error{Errc::internal, "PQconnectStart: out of memory"};
  if (PQstatus(pg_) == CONNECTION_BAD) co_return connection_error("connect");
  PQsetNoticeReceiver(pg_, ignore_notice, nullptr);
  Deadline deadline(*this, timeout);
  // libpq: "consider a status of PGRES_POLLING_WRITING initially".
  PostgresPollingStatusType poll = PGRES_POLLING_WRITING;
  while (poll != PGRES_POLLING_OK) {
    if (poll == PGRES_POLLING_FAILED) co_return connection_error("connect");
    attach_socket();
    if (!socket_) co_return connection_error("connect");
    if (auto error = co_await wait(poll != PGRES_POLLING_READING)) {
      if (error->code == Errc::timeout) {
        error->message = "connect timed out after " + std::to_string(timeout.count()) + " ms";
      }
      co_return std::move(*error);
    }
    poll = PQconnectPoll(pg_);
  }
  attach_socket();
  if (!socket_ || PQsetnonblocking(pg_, 1) != 0) co_return connection_error("connect");
  co_return Status{};
}

asio::awaitable<Result<Rows>> Connection::finish_command() {
  // Send everything; libpq says to read as well while waiting, so the server never blocks on us.
  for (;;) {
    const int flushed = PQflush(pg_);
    if (flushed == 0) break;
    if (flushed < 0) co_return connection_error("send");
    if (auto error = co_await wait(true)) co_return std::move(*error);
    if (!PQconsumeInput(pg_)) co_return connection_error("receive");
  }

  std::optional<Error> first_error;
  Rows rows;
  for (;;) {
    while (PQisBusy(pg_)) {
      if (auto error = co_await wait(false)) co_return std::move(*error);
      if (!PQconsumeInput(pg_)) co_return connection_error("receive");
    }
    ResultPtr res(PQgetResult(pg_));
    if (!res) break;
    switch (PQresultStatus(res.get())) {
      case PGRES_TUPLES_OK:
      case PGRES_COMMAND_OK:
      case PGRES_EMPTY_QUERY:
        if (!first_error) rows = copy_rows(res.get());
        break;
      case PGRES_COPY_IN:
      case PGRES_COPY_OUT:
      case PGRES_COPY_BOTH:
        // The connection is now stuck in COPY mode, which this client does not speak.
        broken_ = true;
        co_return Error{Errc::backend_error, "COPY is not supported"};
      default:
        if (!first_error) first_error = error_from_result(res.get());
        break;
    }
  }
  if (first_error) {
    if (PQstatus(pg_) == CONNECTION_BAD) first_error->code = Errc::unavailable;
    if (first_error->code == Errc::unavailable) broken_ = true;
    co_return std::move(*first_error);
  }
  co_return rows;
}

asio::awaitable<Result<Rows>> Connection::query(std::string sql, std::vector<Param> params,
                                                std::chrono::milliseconds timeout) {
  if (!pg_ || broken_) co_return Error{Errc::unavailable, "connection is broken"};
  Deadline deadline(*this, timeout);
  std::string name;
  if (auto found = statements_.find(sql); found != statements_.end()) {
    name = found->second;
  } else {
    // Past the cap (SQL built at run time) the unnamed statement is re-prepared on every call,
    // so neither this map nor the backend's memory grows without bound.
    const bool cache = statements_.size() < kMaxCachedStatements;
    if (cache) {
      name = statement_name(sql);
      while (statement_names_.contains(name)) name += '_';  // FNV collision: still unique
    }
    if (!PQsendPrepare(pg_, name.c_str(), sql.c_str(), 0, nullptr)) {
      co_return connection_error("prepare");
    }
    auto prepared = co_await finish_command();
    if (!prepared) co_return std::move(prepared).error();
    if (cache) {
      statement_names_.insert(name);
      statements_.emplace(std::move(sql), name);
    }
  }

  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& param : params) values.push_back(param ? param->c_str() : nullptr);
  if (!PQsendQueryPrepared(pg_, name.c_str(), static_cast<int>(values.size()), values.data(),
                           nullptr, nullptr, 0)) {
    co_return connection_error("execute");
  }
  co_return co_await finish_command();
}

asio::awaitable<Result<Rows>> Connection::simple_query(std::string sql,
                                                       std::chrono::milliseconds timeout) {
  if (!pg_ || broken_) co_return Error{Errc::unavailable, "connection is broken"};
  Deadline deadline(*this, timeout);
  if (!PQsendQuery(pg_, sql.c_str())) co_return connection_error("query");
  co_return co_await finish_command();
}

bool Connection::reusable() const {
  return pg_ && !broken_ && abort_ == Abort::none && PQstatus(pg_) == CONNECTION_OK &&
         PQtransactionStatus(pg_) == PQTRANS_IDLE;
}

bool Connection::in_failed_transaction() const {
  return pg_ && PQtransactionStatus(pg_) == PQTRANS_INERROR;
}

void Connection::watch_idle(std::function<void()> on_lost) {
  if (!socket_) return;
  const std::uint64_t id = ++idle_watch_id_;
  socket_->async_wait(asio::posix::descriptor_base::wait_read,
                      [weak = weak_from_this(), id,
                       on_lost = std::move(on_lost)](boost::system::error_code ec) mutable {
                        auto self = weak.lock();
                        if (!self || ec || self->idle_watch_id_ != id || !self->pg_) return;
                        if (!PQconsumeInput(self->pg_) || PQstatus(self->pg_) == CONNECTION_BAD) {
                          self->broken_ = true;
                          on_lost();
                          return;
                        }
                        while (PGnotify* note = PQnotifies(self->pg_)) PQfreemem(note);
                        self->watch_idle(std::move(on_lost));
                      });
}

void Connection::stop_watching_idle() {
  ++idle_watch_id_;
  boost::system::error_code ignored;
  if (socket_) socket_->cancel(ignored);
}

void Connection::cancel() {
  if (abort_ == Abort::none) abort_ = Abort::cancelled;
  broken_ = true;
  boost::system::error_code ignored;
  if (socket_) socket_->cancel(ignored);
}

void Connection::close() {
  ++idle_watch_id_;
  disarm_deadline();
  broken_ = true;
  if (socket_) {
    socket_->release();  // the fd belongs to libpq; PQfinish closes it
    socket_.reset();
  }
  if (pg_) {
    PQfinish(pg_);
    pg_ = nullptr;
  }
}

}  // namespace fs::pg
