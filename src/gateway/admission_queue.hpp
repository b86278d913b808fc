#pragma once
// The gateway's admission queue (flow 8): a leaky bucket in front of the service. Requests that
// passed the edge limits wait here in FIFO order and leave at a fixed drain rate; a full queue
// refuses (503 overloaded), a request that waited longer than max_wait leaves with 408
// queue_timeout, and a client that went away leaves at once (cancel()).
//
// Pure and single-threaded: time is a monotonic nanosecond count passed in by the caller, so
// tests drive it by hand. AdmissionGate (admission_gate.hpp) puts coroutines on top of it.
#include <cstdint>
#include <deque>
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

  AdmissionQueue(AdmissionQueueConfig config, std::int64_t now_ns);

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

  std::size_t length() const { return waiting_; }
  const AdmissionQueueConfig& config() const { return config_; }

 private:
  struct Slot {
    std::int64_t enqueued_ns;
    std::uint64_t tag;
    bool waiting;
  };
  void refill(std::int64_t now_ns);
  void drop_cancelled_front();

  AdmissionQueueConfig config_;
  double burst_;
  double credits_;
  std::int64_t last_refill_ns_;
  std::deque<Slot> slots_;
  Ticket front_ticket_ = 1;  // ticket of slots_.front()
  std::size_t waiting_ = 0;
};

}  // namespace fs::gateway
