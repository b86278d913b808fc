#pragma once
// Runs a coroutine on an io_context from the test thread until it finishes. Background work it
// leaves behind (the pool's keeper coroutines) stays queued for the next call.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>

namespace fs::test {

template <class T>
T run_until_done(boost::asio::io_context& io, boost::asio::awaitable<T> task,
                 std::chrono::milliseconds limit = std::chrono::seconds{30}) {
  struct State {
    std::conditional_t<std::is_void_v<T>, bool, std::optional<T>> value{};
    std::exception_ptr error;
    bool done = false;
  };
  auto state = std::make_shared<State>();
  // co_spawn wants a default-constructible result; the state carries it instead.
  auto wrapper = [](std::shared_ptr<State> s,
                    boost::asio::awaitable<T> inner) -> boost::asio::awaitable<void> {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(inner);
    } else {
      s->value.emplace(co_await std::move(inner));
    }
  };
  boost::asio::co_spawn(io, wrapper(state, std::move(task)), [state](std::exception_ptr e) {
    state->error = e;
    state->done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + limit;
  io.restart();
  while (!state->done && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds{10});
  }
  if (!state->done) throw std::runtime_error("coroutine did not finish in time");
  if (state->error) std::rethrow_exception(state->error);
  if constexpr (!std::is_void_v<T>) return std::move(*state->value);
}

}  // namespace fs::test

namespace fs::test {

// Runs handlers on `io` until `done()` holds or `limit` passes; returns done().
template <class Predicate>
bool run_until(boost::asio::io_context& io, Predicate done,
               std::chrono::milliseconds limit = std::chrono::seconds{30}) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  io.restart();
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds{10});
  }
  return done();
}

}  // namespace fs::test
