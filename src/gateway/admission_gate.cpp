#include "gateway/admission_gate.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "metrics/gateway_metrics.hpp"

namespace fs::gateway {

namespace asio = boost::asio;

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// Timer wake-ups are batched: a high drain rate releases several waiters per tick.
constexpr std::int64_t kMinTickNs = 1'000'000;
}  // namespace

AdmissionGate::AdmissionGate(asio::any_io_executor executor, const Clock& clock,
                             AdmissionQueueConfig config, metrics::GatewayMetrics* metrics,
                             std::shared_ptr<DrainBudget> budget)
    : executor_(executor),
      clock_(clock),
      metrics_(metrics),
      queue_(config,
             budget ? std::move(budget) : std::make_shared<DrainBudget>(config, clock.steady_ns())),
      drain_timer_(executor) {}

AdmissionGate::~AdmissionGate() { *alive_ = false; }

void AdmissionGate::wake(std::uint64_t tag, Outcome outcome) {
  auto* w = reinterpret_cast<Waiter*>(static_cast<std::uintptr_t>(tag));
  w->outcome = outcome;  // set before the cancel: the waiter may not be suspended yet
  w->timer.cancel();
}

void AdmissionGate::schedule_drain() {
  if (draining_) return;
  draining_ = true;
  asio::co_spawn(executor_, drain_loop(), asio::detached);
}

asio::awaitable<void> AdmissionGate::drain_loop() {
  auto alive = alive_;
  for (;;) {
    released_.clear();
    expired_.clear();
    const std::int64_t now = clock_.steady_ns();
    auto next = queue_.advance(now, released_, expired_);
    for (const auto& r : released_) {
      if (metrics_) metrics_->queue_wait(static_cast<double>(r.waited_ns) / 1e9);
      wake(r.tag, Outcome::released);
    }
    for (const auto& r : expired_) wake(r.tag, Outcome::expired);
    if (metrics_ && (!released_.empty() || !expired_.empty()))
      metrics_->queue_length_delta(-static_cast<std::int64_t>(released_.size() + expired_.size()));
    if (!next) break;
    drain_timer_.expires_after(std::chrono::nanoseconds{std::max(*next - now, kMinTickNs)});
    auto [ec] = co_await drain_timer_.async_wait(kTuple);
    (void)ec;
    if (!*alive) co_return;
  }
  draining_ = false;
}

asio::awaitable<Status> AdmissionGate::wait_turn(const DisconnectHook* on_disconnect) {
  Waiter w(executor_);
  const auto tag = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(&w));
  const auto enqueued = queue_.enqueue(clock_.steady_ns(), tag);
  if (enqueued.verdict == AdmissionQueue::Verdict::admitted) {
    if (metrics_) metrics_->queue_wait(0);
    co_return Status{};
  }
  if (enqueued.verdict == AdmissionQueue::Verdict::full) {
    if (metrics_) metrics_->rejected("queue_full");
    co_return Error{Errc::overloaded, "the admission queue is full"};
  }
  if (metrics_) metrics_->queue_length_delta(+1);
  const auto ticket = enqueued.ticket;
  // Whatever ends this frame (an exception, the frame destroyed at shutdown), a ticket still
  // waiting must not keep pointing at `w`.
  struct LeaveOnExit {
    AdmissionGate* gate;
    std::shared_ptr<bool> alive;
    Waiter* w;
    AdmissionQueue::Ticket ticket;
    ~LeaveOnExit() {
      if (*alive && w->outcome == Outcome::waiting && gate->queue_.cancel(ticket) && gate->metrics_)
        gate->metrics_->queue_length_delta(-1);
    }
  } leave_on_exit{this, alive_, &w, ticket};
  if (on_disconnect && *on_disconnect) {
    std::function<void()> leave = [this, ticket, &w] {
      if (w.outcome != Outcome::waiting || !queue_.cancel(ticket)) return;
      if (metrics_) metrics_->queue_length_delta(-1);
      w.outcome = Outcome::abandoned;
      w.timer.cancel();
    };
    (*on_disconnect)(std::move(leave));
  }
  schedule_drain();
  w.timer.expires_at(asio::steady_timer::time_point::max());
  while (w.outcome == Outcome::waiting) {
    auto [ec] = co_await w.timer.async_wait(kTuple);
    if (w.outcome != Outcome::waiting) break;
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) {  // server shutting down
      if (queue_.cancel(ticket) && metrics_) metrics_->queue_length_delta(-1);
      w.outcome = Outcome::abandoned;
    }
    (void)ec;
  }
  if (on_disconnect && *on_disconnect) {
    std::function<void()> none;
    (*on_disconnect)(std::move(none));  // `w` dies with this frame
  }
  switch (w.outcome) {
    case Outcome::released:
      co_return Status{};
    case Outcome::expired:
      if (metrics_) metrics_->rejected("queue_timeout");
      co_return Error{Errc::queue_timeout, "waited too long in the admission queue"};
    default:
      if (metrics_) metrics_->rejected("queue_abandoned");
      co_return Error{Errc::cancelled, "the client went away while queued"};
  }
}

}  // namespace fs::gateway
