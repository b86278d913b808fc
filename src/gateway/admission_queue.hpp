#pragma once
// The gateway's admission queue (flow 8): a leaky bucket in front of the service. Requests that
// passed the edge limits wait here in FIFO order and leave at a fixed drain rate; a full queue
// refuses (503 overloaded), a request that waited longer than max_wait leaves with 408
// queue_timeout, and a client that went away leaves at once (cancel()).
//
// Time is a monotonic nanosecond count passed in by the caller, so tests drive it by hand.
// AdmissionGate (admission_gate.hpp) puts coroutines on top of it.
//
// Several queues (one per I/O thread) can share one DrainBudget: the drain rate, the burst and
// the maximum length are then the process' figures, not split per thread, so a thread that
// happens to hold all the waiters drains at the full rate and an idle one wastes nothing. A
// queue itself is single-threaded; only the budget is shared (a mutex, taken once per enqueue
// and once per drain tick).
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace fs::gateway {

struct AdmissionQueueConfig {
  double drain_per_second = 10'000.0;  // must be > 0
  std::size_t max_length = 100'000;    // waiting requests; beyond it: full
  std::int64_t max_wait_ns = 30'000'000'000;
  // Releases that may go out at once after an idle spell; 0 picks 10 ms worth of the drain rate
  // (at least 1), so a drain timer every millisecond or so keeps up with any rate.
  double burst = 0;
};

// The drain credits and the waiting count shared by queues. Thread-safe. While nobody waits,
// credits accrue to a common pool (capped at the burst) that lets newcomers straight through.
// While requests wait, the credits the drain rate produces are shared out among the queues in
// proportion to how many wait in each, so every waiter sees about the same wait whichever queue
// it is in, and a queue with nobody waiting takes nothing.
class DrainBudget {
 public:
  DrainBudget(const AdmissionQueueConfig& config, std::int64_t now_ns);

  std::size_t attach();  // a new queue's id
  void detach(std::size_t id);

  enum class Join { admitted, queued, full };
  // A newcomer: admitted at once when nobody waits anywhere and a credit is free; otherwise it
  // counts as waiting in queue `id` unless max_length already wait.
  Join join(std::size_t id, std::int64_t now_ns);
  // How many of queue `id`'s waiters may leave now (they no longer count as waiting).
  std::size_t take(std::size_t id, std::int64_t now_ns);
  void leave(std::size_t id, std::size_t n);  // waiters that expired or were cancelled
  // Nanoseconds until queue `id` may release its next waiter (0: now), at the current shares.
  std::int64_t ns_until_credit(std::size_t id, std::int64_t now_ns);
  std::size_t waiting() const;

 private:
  struct Share {
    std::size_t waiting = 0;
    double credits = 0;
  };
  void refill(std::int64_t now_ns);  // under mutex_
  void emptied(Share& s);            // under mutex_

  const double rate_;
  const std::size_t max_length_;
  const double burst_;
  mutable std::mutex mutex_;
  double pool_;
  std::int64_t last_refill_ns_;
  std::size_t waiting_ = 0;
  std::vector<Share> shares_;
};

class AdmissionQueue {
 public:
  using Ticket = std::uint64_t;
  enum class Verdict {
    admitted,  // nobody waiting and a release slot was free: go now, no ticket
    queued,    // wait for advance() to release or expire the ticket
    full,      // max_length requests already waiting
  };
  struct Enqueued {
    Verdict verdict = Verdict::full;
    Ticket ticket = 0;
  };
  struct Released {
    Ticket ticket = 0;
    std::uint64_t tag = 0;  // what the caller attached at enqueue()
    std::int64_t waited_ns = 0;
  };

  // A queue with its own budget (rate, burst and length from `config`).
  AdmissionQueue(AdmissionQueueConfig config, std::int64_t now_ns);
  // A queue drawing on a shared budget; only max_wait_ns is taken from `config`.
  AdmissionQueue(AdmissionQueueConfig config, std::shared_ptr<DrainBudget> budget);
  ~AdmissionQueue();
  AdmissionQueue(const AdmissionQueue&) = delete;
  AdmissionQueue& operator=(const AdmissionQueue&) = delete;

  // `tag` travels with the ticket (AdmissionGate stores its waiter's address there).
  Enqueued enqueue(std::int64_t now_ns, std::uint64_t tag = 0);

  // Moves time to `now_ns`: releases waiting tickets in FIFO order while the drain rate allows,
  // then expires those that have waited max_wait. Returns when advance() should next be called
  // (nullopt: nobody is waiting).
  std::optional<std::int64_t> advance(std::int64_t now_ns, std::vector<Released>& released,
                                      std::vector<Released>& expired);

  // The client went away: the ticket leaves the queue now (length() drops at once; the slot is
  // reclaimed lazily). False when the ticket is not waiting any more.
  bool cancel(Ticket ticket);
  // Replaces the tag of a waiting ticket (a caller that makes its waiter only once queued).
  void retag(Ticket ticket, std::uint64_t tag);

  std::size_t length() const { return waiting_; }  // this queue's waiters
  const DrainBudget& budget() const { return *budget_; }
  const AdmissionQueueConfig& config() const { return config_; }

 private:
  struct Slot {
    std::int64_t enqueued_ns;
    std::uint64_t tag;
    bool waiting;
  };
  void drop_cancelled_front();

  AdmissionQueueConfig config_;
  std::shared_ptr<DrainBudget> budget_;
  std::size_t id_;  // in budget_
  std::deque<Slot> slots_;
  Ticket front_ticket_ = 1;  // ticket of slots_.front()
  std::size_t waiting_ = 0;
};

}  // namespace fs::gateway
