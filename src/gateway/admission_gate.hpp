#pragma once
// Coroutines on top of AdmissionQueue: one gate per I/O thread (requests are served on their
// connection's thread, so waking a waiter never crosses threads). The gates of a process share
// one DrainBudget, so the drain rate and the maximum length are the process' whatever thread the
// waiters landed on. One drain timer per gate, not one per waiter. Two kinds of waiters: a
// coroutine (wait_turn: a queue slot and a parked timer) and a Waiter object told its turn by a
// call (join: a queue slot only), which lets the HTTP server park a request without keeping any
// coroutine frame alive (http::Parking).
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "gateway/admission_queue.hpp"

namespace fs::metrics {
class GatewayMetrics;
}

namespace fs::gateway {

// How a waiter learns that its client went away: the gate registers a callback (called on the
// gate's thread); registering an empty function unregisters it.
using DisconnectHook = std::function<void(std::function<void()>)>;

class AdmissionGate {
 public:
  // `budget` null: the gate has its own (rate, burst and length from `config`).
  AdmissionGate(boost::asio::any_io_executor executor, const Clock& clock,
                AdmissionQueueConfig config, metrics::GatewayMetrics* metrics,
                std::shared_ptr<DrainBudget> budget = nullptr);
  ~AdmissionGate();
  AdmissionGate(const AdmissionGate&) = delete;
  AdmissionGate& operator=(const AdmissionGate&) = delete;

  // Waits for this request's turn. Ok: go on. Errc::overloaded (queue full), Errc::queue_timeout
  // (waited max_wait), Errc::cancelled (the client went away; nobody to answer).
  // `on_disconnect` may be null. Must be called on the gate's executor.
  boost::asio::awaitable<Status> wait_turn(const DisconnectHook* on_disconnect);

  // A waiter that is not a coroutine. Told its turn once, on the gate's thread, from the drain.
  class Waiter {
   public:
    // Ok: go on. Errc::queue_timeout: waited max_wait.
    virtual void on_turn(Status status) = 0;

   protected:
    ~Waiter() = default;
  };
  // Joins the queue without a coroutine. Ok(0): admitted at once. Ok(ticket): queued; the waiter
  // (`w`, or the one given to wait() right after, before anything else runs on the gate's thread)
  // is told its turn unless leave(ticket) came first. Errc::overloaded: the queue is full. The
  // waiter must stay alive until told or until it left. Must be called on the gate's executor.
  Result<AdmissionQueue::Ticket> join(Waiter* w);
  void wait(AdmissionQueue::Ticket ticket, Waiter& w);
  // The waiter went away (its client disconnected, the server stops): it leaves the queue now and
  // is never told its turn. No-op when its turn already came.
  void leave(AdmissionQueue::Ticket ticket);
  // False once the gate is destroyed (for waiters that may outlive it at shutdown).
  const std::shared_ptr<bool>& alive() const { return alive_; }

  std::size_t length() const { return queue_.length(); }

 private:
  void wake(std::uint64_t tag, Status status);
  void schedule_drain();
  boost::asio::awaitable<void> drain_loop();

  boost::asio::any_io_executor executor_;
  const Clock& clock_;
  metrics::GatewayMetrics* metrics_;
  AdmissionQueue queue_;
  boost::asio::steady_timer drain_timer_;
  bool draining_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::vector<AdmissionQueue::Released> released_, expired_;  // scratch for drain_loop
};

}  // namespace fs::gateway
