#include "gateway/admission_gate.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <optional>

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

void AdmissionGate::wake(std::uint64_t tag, Status status) {
  if (tag == 0) return;  // joined without a waiter, which never came (not expected)
  reinterpret_cast<Waiter*>(static_cast<std::uintptr_t>(tag))->on_turn(std::move(status));
}

namespace {
std::uint64_t tag_of(AdmissionGate::Waiter* w) {
  return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(w));
}
}  // namespace

Result<AdmissionQueue::Ticket> AdmissionGate::join(Waiter* w) {
  const auto tag = tag_of(w);
  const auto enqueued = queue_.enqueue(clock_.steady_ns(), tag);
  switch (enqueued.verdict) {
    case AdmissionQueue::Verdict::admitted:
      if (metrics_) metrics_->queue_wait(0);
      return AdmissionQueue::Ticket{0};
    case AdmissionQueue::Verdict::full:
      if (metrics_) metrics_->rejected("queue_full");
      return Error{Errc::overloaded, "the admission queue is full"};
    case AdmissionQueue::Verdict::queued:
      break;
  }
  if (metrics_) metrics_->queue_length_delta(+1);
  schedule_drain();
  return enqueued.ticket;
}

void AdmissionGate::wait(AdmissionQueue::Ticket ticket, Waiter& w) {
  queue_.retag(ticket, tag_of(&w));
}

void AdmissionGate::leave(AdmissionQueue::Ticket ticket) {
  if (!queue_.cancel(ticket)) return;
  if (metrics_) {
    metrics_->queue_length_delta(-1);
    metrics_->rejected("queue_abandoned");
  }
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
      wake(r.tag, Status{});
    }
    for (const auto& r : expired_) {
      if (metrics_) metrics_->rejected("queue_timeout");
      wake(r.tag, Error{Errc::queue_timeout, "waited too long in the admission queue"});
    }
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
  // The coroutine's Waiter: a parked timer, cancelled when the turn comes.
  struct TimerWaiter final : Waiter {
    explicit TimerWaiter(const asio::any_io_executor& ex) : timer(ex) {}
    void on_turn(Status s) override {
      outcome = std::move(s);  // set before the cancel: the waiter may not be suspended yet
      timer.cancel();
    }
    asio::steady_timer timer;
    std::optional<Status> outcome;
  } w(executor_);
  auto joined = join(&w);
  if (!joined) co_return std::move(joined).error();
  if (*joined == 0) co_return Status{};
  const auto ticket = *joined;
  const Status gone{Error{Errc::cancelled, "the client went away while queued"}};
  // Whatever ends this frame (an exception, the frame destroyed at shutdown), a ticket still
  // waiting must not keep pointing at `w`.
  struct LeaveOnExit {
    AdmissionGate* gate;
    std::shared_ptr<bool> alive;
    AdmissionQueue::Ticket ticket;
    ~LeaveOnExit() {
      if (*alive) gate->leave(ticket);
    }
  } leave_on_exit{this, alive_, ticket};
  if (on_disconnect && *on_disconnect) {
    std::function<void()> leave_now = [this, ticket, &w, &gone] {
      if (w.outcome) return;
      leave(ticket);
      w.on_turn(gone);
    };
    (*on_disconnect)(std::move(leave_now));
  }
  w.timer.expires_at(asio::steady_timer::time_point::max());
  while (!w.outcome) {
    auto [ec] = co_await w.timer.async_wait(kTuple);
    (void)ec;
    if (w.outcome) break;
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) {  // server shutting down
      leave(ticket);
      w.outcome = gone;
    }
  }
  if (on_disconnect && *on_disconnect) {
    std::function<void()> none;
    (*on_disconnect)(std::move(none));  // `w` dies with this frame
  }
  co_return std::move(*w.outcome);
}

}  // namespace fs::gateway
