// AdmissionGate's waiters without a coroutine (join/wait/leave), as the HTTP server's parked
// requests use them: told their turn in FIFO order at the drain rate, timed out after max_wait,
// never told once they left.
#include "gateway/admission_gate.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <optional>
#include <vector>

namespace fs::gateway {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct Turn {
  int waiter;
  std::optional<Errc> error;  // nullopt: admitted
};

struct RecordingWaiter final : AdmissionGate::Waiter {
  RecordingWaiter(int i, std::vector<Turn>& l) : id(i), log(l) {}
  void on_turn(Status s) override {
    log.push_back({id, s ? std::nullopt : std::optional<Errc>(s.code())});
  }
  int id;
  std::vector<Turn>& log;
};

AdmissionQueueConfig config() {
  AdmissionQueueConfig c;
  c.drain_per_second = 10;  // one every 100 ms of the manual clock
  c.max_length = 3;
  c.max_wait_ns = 250'000'000;
  c.burst = 1;
  return c;
}

// Runs the gate's drain (real timers, delays computed from the manual clock) until `n` turns
// were told or nothing more happens.
void run_until(asio::io_context& io, const std::vector<Turn>& log, std::size_t n) {
  for (int i = 0; i < 100 && log.size() < n; ++i) {
    io.restart();
    io.run_for(20ms);
  }
}

TEST(AdmissionGate, WaitersWithoutCoroutineGoInFifoOrderCanLeaveAndTimeOut) {
  asio::io_context io;
  ManualClock clock;
  AdmissionGate gate(io.get_executor(), clock, config(), nullptr);
  std::vector<Turn> log;
  RecordingWaiter w1(1, log), w2(2, log), w3(3, log), w4(4, log), w5(5, log);

  auto first = gate.join(nullptr);  // idle queue with a free credit: admitted at once
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, 0u);

  auto t1 = gate.join(nullptr);  // the waiter is given right after joining
  ASSERT_TRUE(t1);
  ASSERT_NE(*t1, 0u);
  gate.wait(*t1, w1);
  auto t2 = gate.join(&w2);
  auto t3 = gate.join(&w3);
  ASSERT_TRUE(t2 && t3);
  auto t4 = gate.join(&w4);  // max_length 3 wait already
  ASSERT_FALSE(t4);
  EXPECT_EQ(t4.code(), Errc::overloaded);
  EXPECT_EQ(gate.length(), 3u);

  gate.leave(*t2);  // its client went away: gone from the queue at once, never told
  EXPECT_EQ(gate.length(), 2u);

  clock.advance(100ms);
  run_until(io, log, 1);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].waiter, 1);
  EXPECT_FALSE(log[0].error);

  clock.advance(100ms);
  run_until(io, log, 2);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].waiter, 3);  // 2 left
  EXPECT_FALSE(log[1].error);
  gate.leave(*t3);  // its turn came already: a no-op
  EXPECT_EQ(gate.length(), 0u);

  // A queue that does not drain in time: the waiter is told queue_timeout.
  clock.advance(50ms);
  auto t5 = gate.join(&w5);
  ASSERT_TRUE(t5);
  ASSERT_NE(*t5, 0u);
  auto t6 = gate.join(nullptr);  // joins behind w5, then stays for the timeout check below
  ASSERT_TRUE(t6);
  gate.wait(*t6, w4);
  clock.advance(60ms);  // w5 gets the next credit
  run_until(io, log, 3);
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[2].waiter, 5);
  clock.advance(300ms);  // w4 waited past max_wait before the next credit was used
  run_until(io, log, 4);
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[3].waiter, 4);
  ASSERT_TRUE(log[3].error);
  EXPECT_EQ(*log[3].error, Errc::queue_timeout);
  EXPECT_EQ(gate.length(), 0u);
}

}  // namespace
}  // namespace fs::gateway
