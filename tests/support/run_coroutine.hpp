#pragma once
// Drives an io_context on the test thread until one coroutine finishes, then returns its result
// (or rethrows its exception). Background coroutines (a client's reader, timers) may still be
// pending when it returns; they are resumed by the next call or destroyed with the io_context.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>
#include <type_traits>

namespace fs::test {

template <class T>
T run_coroutine(boost::asio::io_context& io, boost::asio::awaitable<T> coro) {
  bool done = false;
  std::exception_ptr failure;
  std::conditional_t<std::is_void_v<T>, bool, std::optional<T>> value{};
  // co_spawn's value-returning form needs a default-constructible T (Result<T> is not), so the
  // value is stored from inside a void coroutine.
  auto body = [&value, c = std::move(coro)]() mutable -> boost::asio::awaitable<void> {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(c);
      value = true;
    } else {
      value.emplace(co_await std::move(c));
    }
  };
  boost::asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) {
    failure = e;
    done = true;
  });
  io.restart();
  while (!done) {
    if (io.run_one() == 0) throw std::logic_error("run_coroutine: io_context ran out of work");
  }
  if (failure) std::rethrow_exception(failure);
  if constexpr (!std::is_void_v<T>) return std::move(*value);
}

// Runs the io_context until `done()` holds; false if `timeout` passed first.
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds{30}) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  io.restart();
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.run_one_for(std::chrono::milliseconds{10});
  }
  return true;
}

inline boost::asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, d);
  co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
}

// Polls `predicate` from inside a coroutine without blocking the io_context between polls.
inline boost::asio::awaitable<bool> poll_until(
    std::function<bool()> predicate, std::chrono::milliseconds timeout,
    std::chrono::milliseconds interval = std::chrono::milliseconds{5}) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() >= deadline) co_return false;
    co_await sleep_for(interval);
  }
  co_return true;
}

}  // namespace fs::test
