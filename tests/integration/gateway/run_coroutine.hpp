#pragma once
// Drives an io_context on the test thread until one coroutine finishes and returns its value.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <optional>
#include <stdexcept>

namespace fs::gateway::test {

template <class T>
T run(boost::asio::io_context& io, boost::asio::awaitable<T> coro) {
  bool done = false;
  std::exception_ptr failure;
  std::optional<T> value;
  auto body = [&value, c = std::move(coro)]() mutable -> boost::asio::awaitable<void> {
    value.emplace(co_await std::move(c));
  };
  boost::asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) {
    failure = e;
    done = true;
  });
  io.restart();
  while (!done) {
    if (io.run_one() == 0) throw std::logic_error("run: io_context ran out of work");
  }
  if (failure) std::rethrow_exception(failure);
  return std::move(*value);
}

}  // namespace fs::gateway::test
