#include "gateway/admission_queue.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace fs::gateway {
namespace {
constexpr double kNsPerSecond = 1e9;
constexpr double kEpsilon = 1e-9;
constexpr std::int64_t kShareRecheckNs = 10'000'000;

double validated_rate(const AdmissionQueueConfig& config) {
  if (!(config.drain_per_second > 0) || config.max_wait_ns <= 0)
    throw std::invalid_argument("AdmissionQueue: drain rate and max wait must be > 0");
  return config.drain_per_second;
}
}  // namespace

DrainBudget::DrainBudget(const AdmissionQueueConfig& config, std::int64_t now_ns)
    : rate_(validated_rate(config)),
      max_length_(config.max_length),
      burst_(std::max(
          1.0, config.burst > 0 ? config.burst : std::floor(config.drain_per_second / 100.0))),
      pool_(burst_),
      last_refill_ns_(now_ns) {}

std::size_t DrainBudget::attach() {
  std::lock_guard lock(mutex_);
  shares_.emplace_back();
  return shares_.size() - 1;
}

void DrainBudget::detach(std::size_t id) {
  std::lock_guard lock(mutex_);
  Share& s = shares_[id];
  waiting_ -= std::min(waiting_, s.waiting);
  s.waiting = 0;
  emptied(s);
}

void DrainBudget::emptied(Share& s) {
  pool_ += std::max(0.0, s.credits);
  s.credits = 0;
  if (waiting_ == 0) pool_ = std::min(burst_, pool_);
}

void DrainBudget::refill(std::int64_t now_ns) {
  if (now_ns <= last_refill_ns_) return;
  double fresh = static_cast<double>(now_ns - last_refill_ns_) * rate_ / kNsPerSecond;
  last_refill_ns_ = now_ns;
  if (waiting_ == 0) {
    pool_ = std::min(burst_, pool_ + fresh);
    return;
  }
  // While requests wait, a late drain tick (a busy thread) must not lose their releases: the
  // burst caps a queue's credits only after it released (take()).
  fresh += pool_;
  pool_ = 0;
  const double total = static_cast<double>(waiting_);
  for (auto& s : shares_)
    if (s.waiting > 0) s.credits += fresh * static_cast<double>(s.waiting) / total;
}

DrainBudget::Join DrainBudget::join(std::size_t id, std::int64_t now_ns) {
  std::lock_guard lock(mutex_);
  refill(now_ns);
  if (waiting_ == 0 && pool_ >= 1.0 - kEpsilon) {
    pool_ = std::max(0.0, pool_ - 1.0);
    return Join::admitted;
  }
  if (waiting_ >= max_length_) return Join::full;
  ++waiting_;
  ++shares_[id].waiting;
  return Join::queued;
}

std::size_t DrainBudget::take(std::size_t id, std::int64_t now_ns) {
  std::lock_guard lock(mutex_);
  refill(now_ns);
  Share& s = shares_[id];
  const double whole = std::floor(s.credits + kEpsilon);
  const auto n = std::min(s.waiting, static_cast<std::size_t>(std::max(0.0, whole)));
  s.credits -= static_cast<double>(n);
  s.waiting -= n;
  waiting_ -= n;
  if (s.waiting == 0)
    emptied(s);
  else
    s.credits = std::min(burst_, s.credits);
  return n;
}

void DrainBudget::leave(std::size_t id, std::size_t n) {
  std::lock_guard lock(mutex_);
  Share& s = shares_[id];
  n = std::min(n, s.waiting);
  s.waiting -= n;
  waiting_ -= n;
  if (s.waiting == 0) emptied(s);
}

std::int64_t DrainBudget::ns_until_credit(std::size_t id, std::int64_t now_ns) {
  std::lock_guard lock(mutex_);
  refill(now_ns);
  const Share& s = shares_[id];
  if (s.credits >= 1.0 - kEpsilon) return 0;
  if (s.waiting == 0 || waiting_ == 0) return 0;
  const double my_rate = rate_ * static_cast<double>(s.waiting) / static_cast<double>(waiting_);
  return static_cast<std::int64_t>(std::ceil((1.0 - s.credits) * kNsPerSecond / my_rate));
}

std::size_t DrainBudget::waiting() const {
  std::lock_guard lock(mutex_);
  return waiting_;
}

AdmissionQueue::AdmissionQueue(AdmissionQueueConfig config, std::int64_t now_ns)
    : AdmissionQueue(config, std::make_shared<DrainBudget>(config, now_ns)) {}

AdmissionQueue::AdmissionQueue(AdmissionQueueConfig config, std::shared_ptr<DrainBudget> budget)
    : config_(config), budget_(std::move(budget)) {
  if (config.max_wait_ns <= 0 || !budget_)
    throw std::invalid_argument("AdmissionQueue: max wait must be > 0 and a budget given");
  id_ = budget_->attach();
}

AdmissionQueue::~AdmissionQueue() { budget_->detach(id_); }

void AdmissionQueue::drop_cancelled_front() {
  while (!slots_.empty() && !slots_.front().waiting) {
    slots_.pop_front();
    ++front_ticket_;
  }
}

AdmissionQueue::Enqueued AdmissionQueue::enqueue(std::int64_t now_ns, std::uint64_t tag) {
  drop_cancelled_front();
  switch (budget_->join(id_, now_ns)) {
    case DrainBudget::Join::admitted:
      return {Verdict::admitted, 0};
    case DrainBudget::Join::full:
      return {Verdict::full, 0};
    case DrainBudget::Join::queued:
      break;
  }
  slots_.push_back(Slot{now_ns, tag, true});
  ++waiting_;
  return {Verdict::queued, front_ticket_ + slots_.size() - 1};
}

std::optional<std::int64_t> AdmissionQueue::advance(std::int64_t now_ns,
                                                    std::vector<Released>& released,
                                                    std::vector<Released>& expired) {
  drop_cancelled_front();
  std::size_t left = 0;
  // Expiry first: a request that has waited max_wait times out even if a slot opens now.
  // FIFO: the front has waited longest, so expiry only ever looks at the front.
  while (!slots_.empty() && now_ns - slots_.front().enqueued_ns >= config_.max_wait_ns) {
    const Slot& s = slots_.front();
    expired.push_back({front_ticket_, s.tag, now_ns - s.enqueued_ns});
    --waiting_;
    ++left;
    slots_.pop_front();
    ++front_ticket_;
    drop_cancelled_front();
  }
  if (left > 0) budget_->leave(id_, left);
  std::size_t credits = waiting_ > 0 ? budget_->take(id_, now_ns) : 0;
  while (!slots_.empty() && credits > 0) {
    const Slot& s = slots_.front();
    released.push_back({front_ticket_, s.tag, now_ns - s.enqueued_ns});
    --credits;
    --waiting_;
    slots_.pop_front();
    ++front_ticket_;
    drop_cancelled_front();
  }
  if (slots_.empty()) return std::nullopt;
  // At the current shares; when other queues hold waiters too, their leaving raises this
  // queue's share, so look again within 10 ms rather than sleep out a long wait.
  std::int64_t wait = budget_->ns_until_credit(id_, now_ns);
  if (budget_->waiting() > waiting_) wait = std::min(wait, kShareRecheckNs);
  const auto next_credit = now_ns + wait;
  const auto next_expiry = slots_.front().enqueued_ns + config_.max_wait_ns;
  return std::max(now_ns + 1, std::min(next_credit, next_expiry));
}

bool AdmissionQueue::cancel(Ticket ticket) {
  if (ticket < front_ticket_ || ticket - front_ticket_ >= slots_.size()) return false;
  Slot& s = slots_[ticket - front_ticket_];
  if (!s.waiting) return false;
  s.waiting = false;
  --waiting_;
  budget_->leave(id_, 1);
  drop_cancelled_front();
  return true;
}

void AdmissionQueue::retag(Ticket ticket, std::uint64_t tag) {
  if (ticket < front_ticket_ || ticket - front_ticket_ >= slots_.size()) return;
  slots_[ticket - front_ticket_].tag = tag;
}

}  // namespace fs::gateway
