#include "gateway/admission_queue.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace fs::gateway {
namespace {
constexpr double kNsPerSecond = 1e9;
constexpr double kEpsilon = 1e-9;
}  // namespace

AdmissionQueue::AdmissionQueue(AdmissionQueueConfig config, std::int64_t now_ns)
    : config_(config),
      burst_(config.burst > 0 ? config.burst
                              : std::max(1.0, std::floor(config.drain_per_second / 100.0))),
      credits_(burst_),
      last_refill_ns_(now_ns) {
  if (!(config.drain_per_second > 0) || config.max_wait_ns <= 0)
    throw std::invalid_argument("AdmissionQueue: drain rate and max wait must be > 0");
  burst_ = std::max(1.0, burst_);
  credits_ = burst_;
}

void AdmissionQueue::refill(std::int64_t now_ns) {
  if (now_ns <= last_refill_ns_) return;
  credits_ +=
      static_cast<double>(now_ns - last_refill_ns_) * config_.drain_per_second / kNsPerSecond;
  // The burst caps what an idle queue saves up; while requests wait, a late drain tick (a busy
  // thread) must not lose their releases, so the cap applies after releasing (advance()).
  if (waiting_ == 0) credits_ = std::min(burst_, credits_);
  last_refill_ns_ = now_ns;
}

void AdmissionQueue::drop_cancelled_front() {
  while (!slots_.empty() && !slots_.front().waiting) {
    slots_.pop_front();
    ++front_ticket_;
  }
}

AdmissionQueue::Enqueued AdmissionQueue::enqueue(std::int64_t now_ns, std::uint64_t tag) {
  refill(now_ns);
  drop_cancelled_front();
  if (waiting_ == 0 && credits_ >= 1.0 - kEpsilon) {
    credits_ = std::max(0.0, credits_ - 1.0);
    return {Verdict::admitted, 0};
  }
  if (waiting_ >= config_.max_length) return {Verdict::full, 0};
  slots_.push_back(Slot{now_ns, tag, true});
  ++waiting_;
  return {Verdict::queued, front_ticket_ + slots_.size() - 1};
}

std::optional<std::int64_t> AdmissionQueue::advance(std::int64_t now_ns,
                                                    std::vector<Released>& released,
                                                    std::vector<Released>& expired) {
  refill(now_ns);
  drop_cancelled_front();
  // Expiry first: a request that has waited max_wait times out even if a slot opens now.
  // FIFO: the front has waited longest, so expiry only ever looks at the front.
  while (!slots_.empty() && now_ns - slots_.front().enqueued_ns >= config_.max_wait_ns) {
    const Slot& s = slots_.front();
    expired.push_back({front_ticket_, s.tag, now_ns - s.enqueued_ns});
    --waiting_;
    slots_.pop_front();
    ++front_ticket_;
    drop_cancelled_front();
  }
  while (!slots_.empty() && credits_ >= 1.0 - kEpsilon) {
    const Slot& s = slots_.front();
    released.push_back({front_ticket_, s.tag, now_ns - s.enqueued_ns});
    credits_ = std::max(0.0, credits_ - 1.0);
    --waiting_;
    slots_.pop_front();
    ++front_ticket_;
    drop_cancelled_front();
  }
  credits_ = std::min(burst_, credits_);
  if (slots_.empty()) return std::nullopt;
  const auto next_credit =
      now_ns + static_cast<std::int64_t>(
                   std::ceil((1.0 - credits_) * kNsPerSecond / config_.drain_per_second));
  const auto next_expiry = slots_.front().enqueued_ns + config_.max_wait_ns;
  return std::max(now_ns + 1, std::min(next_credit, next_expiry));
}

bool AdmissionQueue::cancel(Ticket ticket) {
  if (ticket < front_ticket_ || ticket - front_ticket_ >= slots_.size()) return false;
  Slot& s = slots_[ticket - front_ticket_];
  if (!s.waiting) return false;
  s.waiting = false;
  --waiting_;
  drop_cancelled_front();
  return true;
}

}  // namespace fs::gateway
