#include "gateway/gateway.hpp"

#include <algorithm>

#include "gateway/bot_scorer.hpp"
#include "gateway/captcha_store.hpp"
#include "gateway/gcra_limiter.hpp"
#include "gateway/shared_token_buckets.hpp"
#include "metrics/gateway_metrics.hpp"
#include "redis/redis_client.hpp"

namespace fs::gateway {

namespace asio = boost::asio;

namespace {

constexpr std::size_t kMaxListed = 1000;

std::string signer_secret(const GatewayConfig& c) {
  return c.captcha_secret.empty() ? std::string("flashsale-captcha-token") : c.captcha_secret;
}

}  // namespace

Admission::Admission(ConcurrencyLimit::Permit permit, metrics::GatewayMetrics* metrics)
    : permit_(std::move(permit)), metrics_(metrics) {
  if (metrics_) metrics_->in_flight_delta(+1);
}

Admission::Admission(Admission&& o) noexcept
    : permit_(std::move(o.permit_)), metrics_(std::exchange(o.metrics_, nullptr)) {}

Admission& Admission::operator=(Admission&& o) noexcept {
  if (this != &o) {
    release();
    permit_ = std::move(o.permit_);
    metrics_ = std::exchange(o.metrics_, nullptr);
  }
  return *this;
}

void Admission::release() {
  permit_.release();
  if (metrics_) metrics_->in_flight_delta(-1);
  metrics_ = nullptr;
}

struct Gateway::Worker {
  Worker(asio::any_io_executor ex, redis::Client& r, const Gateway& g)
      : redis(r),
        gate(ex, g.clock_, g.config_.queue_config, g.metrics_, g.drain_budget_),
        store(r, g.clock_, g.config_.redis_prefix + "captcha:"),
        generator(SecureRandom::instance(), g.clock_, g.config_.captcha) {
    if (g.config_.distributed) {
      ip_gcra = std::make_unique<GcraLimiter>(r, g.clock_, g.config_.ip_bucket,
                                              g.config_.redis_prefix + "gcra:ip:");
      user_gcra = std::make_unique<GcraLimiter>(r, g.clock_, g.config_.user_bucket,
                                                g.config_.redis_prefix + "gcra:user:");
    }
  }
  redis::Client& redis;
  AdmissionGate gate;
  CaptchaStore store;
  CaptchaGenerator generator;
  std::unique_ptr<GcraLimiter> ip_gcra;
  std::unique_ptr<GcraLimiter> user_gcra;
};

Gateway::Gateway(GatewayConfig config, const Clock& clock, metrics::GatewayMetrics* metrics,
                 std::size_t threads)
    : config_(std::move(config)),
      threads_(std::max<std::size_t>(1, threads)),
      clock_(clock),
      metrics_(metrics),
      signer_(signer_secret(config_), clock, config_.captcha_token_ttl),
      concurrency_(config_.max_in_flight),
      drain_budget_(std::make_shared<DrainBudget>(config_.queue_config, clock.steady_ns())) {
  auto resolver = ClientIpResolver::from_strings(config_.trusted_proxies);
  if (!resolver) throw std::invalid_argument("trusted proxies: " + resolver.error().message);
  resolver_ = std::move(*resolver);
  ip_buckets_ = std::make_unique<SharedTokenBuckets>(config_.ip_bucket, config_.max_tracked_keys);
  user_buckets_ =
      std::make_unique<SharedTokenBuckets>(config_.user_bucket, config_.max_tracked_keys);
  scorer_ = std::make_unique<BotScorer>(clock_, config_.bot);
}

Gateway::~Gateway() = default;

void Gateway::add_worker(asio::any_io_executor executor, redis::Client& redis) {
  workers_.push_back(std::make_unique<Worker>(executor, redis, *this));
}

std::string Gateway::client_ip(std::string_view peer, std::string_view forwarded_for) const {
  if (forwarded_for.empty()) {
    auto a = IpAddress::parse(peer);
    return a ? a->to_string() : std::string(peer);
  }
  return resolver_.resolve(peer, forwarded_for);
}

std::int64_t Gateway::now_unix() const {
  return std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
}

std::size_t Gateway::queue_length() const {
  std::size_t n = 0;
  for (const auto& w : workers_) n += w->gate.length();
  return n;
}

asio::awaitable<std::optional<Rejection>> Gateway::check_edge(std::size_t worker,
                                                              const ShopperContext& ctx) {
  Worker& w = *workers_[std::min(worker, workers_.size() - 1)];
  const std::int64_t now = clock_.steady_ns();
  auto limited = [](std::string_view what, std::int64_t retry) {
    return Rejection{
        Errc::rate_limited,
        std::string("too many requests from this ") + std::string(what) + "; retry later",
        retry,
        {}};
  };
  if (config_.ip_limit) {
    TakeResult t;
    if (config_.distributed) {
      auto r = co_await w.ip_gcra->try_take(ctx.ip);
      if (r) {
        t = *r;
      } else {
        if (metrics_) metrics_->backend_error("gcra");
        t = ip_buckets_->try_take(ctx.ip, now);  // Redis down: the local budget still holds
      }
    } else {
      t = ip_buckets_->try_take(ctx.ip, now);
    }
    if (!t.allowed) {
      if (metrics_) metrics_->rejected("ip_rate");
      co_return limited("IP address", t.retry_after_seconds);
    }
  }
  if (ctx.user_id.empty()) co_return std::nullopt;
  if (config_.user_limit) {
    TakeResult t;
    if (config_.distributed) {
      auto r = co_await w.user_gcra->try_take(ctx.user_id);
      if (r) {
        t = *r;
      } else {
        if (metrics_) metrics_->backend_error("gcra");
        t = user_buckets_->try_take(ctx.user_id, now);
      }
    } else {
      t = user_buckets_->try_take(ctx.user_id, now);
    }
    if (!t.allowed) {
      if (metrics_) metrics_->rejected("user_rate");
      co_return limited("user", t.retry_after_seconds);
    }
  }
  co_return co_await check_bans(w, ctx);
}

asio::awaitable<std::optional<Rejection>> Gateway::check_bans(Worker& w,
                                                              const ShopperContext& ctx) {
  if (!config_.bot_detection) co_return std::nullopt;  // bans come from failed CAPTCHAs
  std::int64_t remaining = bans_.remaining(ctx.ip, ctx.user_id, now_unix());
  if (remaining == 0 && config_.distributed) {
    auto r = co_await w.store.ban_ttl(ctx.ip, ctx.user_id);
    if (r) {
      remaining = *r;
    } else if (metrics_) {
      metrics_->backend_error("ban_check");
    }
  }
  if (remaining <= 0) co_return std::nullopt;
  if (metrics_) metrics_->rejected("banned");
  co_return Rejection{Errc::blocked, "blocked after a failed CAPTCHA", remaining, {}};
}

asio::awaitable<std::optional<Rejection>> Gateway::check_bot(std::size_t worker,
                                                             const ShopperContext& ctx) {
  if (!config_.bot_detection) co_return std::nullopt;
  Worker& w = *workers_[std::min(worker, workers_.size() - 1)];
  if (!ctx.captcha_token.empty()) {
    if (signer_.verify(ctx.captcha_token, ctx.user_id, ctx.ip)) {
      if (metrics_) metrics_->captcha("token_accepted");
      co_return std::nullopt;
    }
    if (metrics_) metrics_->captcha("token_rejected");
  }
  BotRequest br;
  br.ip = ctx.ip;
  br.user_id = ctx.user_id;
  br.user_agent = ctx.user_agent;
  br.client_signals = ctx.client_signals;
  br.account_created_unix = ctx.account_created_unix;
  const BotScore score = scorer_->score(br);
  if (!score.is_bot) co_return std::nullopt;
  if (metrics_) metrics_->rejected("bot");

  CaptchaChallenge challenge = w.generator.generate();
  const std::string id = challenge.id;
  const std::string image_key = config_.redis_prefix + "img:" + id;
  const std::string image = challenge.svg;
  const std::string ttl = std::to_string(std::max<std::int64_t>(1, config_.captcha.ttl.count()));
  bool stored = false;
  Status put = co_await w.store.put(std::move(challenge));
  if (put) {
    auto img = co_await w.redis.command("SET", image_key, image, "EX", ttl);
    stored = img.ok();
  }
  if (!stored) {
    if (metrics_) metrics_->backend_error("captcha");
    co_return Rejection{Errc::unavailable, "cannot issue a CAPTCHA right now", 1, {}};
  }
  if (metrics_) metrics_->captcha("issued");
  co_return Rejection{Errc::captcha_required, "solve the CAPTCHA, then retry with X-Captcha-Token",
                      0, id};
}

asio::awaitable<Result<Admission>> Gateway::admit(std::size_t worker,
                                                  const DisconnectHook* on_disconnect) {
  Worker& w = *workers_[std::min(worker, workers_.size() - 1)];
  if (config_.queue) {
    Status st = co_await w.gate.wait_turn(on_disconnect);
    if (!st) co_return std::move(st).error();
  }
  co_return take_slot();
}

Result<AdmissionQueue::Ticket> Gateway::join_queue(std::size_t worker) {
  if (!config_.queue) return AdmissionQueue::Ticket{0};
  return workers_[std::min(worker, workers_.size() - 1)]->gate.join(nullptr);
}

void Gateway::wait_in_queue(std::size_t worker, AdmissionQueue::Ticket ticket,
                            AdmissionGate::Waiter& waiter) {
  workers_[std::min(worker, workers_.size() - 1)]->gate.wait(ticket, waiter);
}

void Gateway::leave_queue(std::size_t worker, AdmissionQueue::Ticket ticket) {
  workers_[std::min(worker, workers_.size() - 1)]->gate.leave(ticket);
}

const std::shared_ptr<bool>& Gateway::queue_alive(std::size_t worker) const {
  return workers_[std::min(worker, workers_.size() - 1)]->gate.alive();
}

Result<Admission> Gateway::take_slot() {
  if (!config_.concurrency_limit) return Admission(ConcurrencyLimit::Permit{}, metrics_);
  auto permit = concurrency_.try_acquire();
  if (!permit) {
    if (metrics_) metrics_->rejected("concurrency");
    return Error{Errc::overloaded, "too many reservations in flight"};
  }
  return Admission(std::move(*permit), metrics_);
}

asio::awaitable<Result<std::string>> Gateway::captcha_image(std::size_t worker, std::string id) {
  Worker& w = *workers_[std::min(worker, workers_.size() - 1)];
  const std::string key = config_.redis_prefix + "img:" + id;
  auto r = co_await w.redis.command("GET", key);
  if (!r) co_return std::move(r).error();
  if (r->is_nil()) co_return Error{Errc::not_found, "unknown or expired challenge"};
  co_return std::move(r->str);
}

asio::awaitable<Result<CaptchaSolution>> Gateway::solve_captcha(std::size_t worker, std::string id,
                                                                std::string answer, std::string ip,
                                                                std::string user_id) {
  Worker& w = *workers_[std::min(worker, workers_.size() - 1)];
  auto verdict = co_await w.store.verify(id, answer);
  if (!verdict) co_return std::move(verdict).error();
  const std::string image_key = config_.redis_prefix + "img:" + id;
  (void)co_await w.redis.command("DEL", image_key);
  CaptchaSolution out;
  if (*verdict == CaptchaVerdict::correct) {
    if (metrics_) metrics_->captcha("solved");
    out.solved = true;
    out.token = signer_.issue(user_id, ip);
    co_return out;
  }
  if (metrics_) metrics_->captcha(*verdict == CaptchaVerdict::expired ? "expired" : "failed");
  const auto until = now_unix() + config_.ban_duration.count();
  bans_.ban("ip", ip, until);
  if (!user_id.empty()) bans_.ban("user", user_id, until);
  if (config_.distributed) {
    auto a = co_await w.store.ban_ip(ip, config_.ban_duration);
    Status b;
    if (!user_id.empty()) b = co_await w.store.ban_user(user_id, config_.ban_duration);
    if ((!a || !b) && metrics_) metrics_->backend_error("ban_write");
  }
  out.ban_seconds = config_.ban_duration.count();
  co_return out;
}

asio::awaitable<Result<std::vector<std::string>>> Gateway::scan_keys(Worker& w,
                                                                     std::string pattern) {
  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    auto r = co_await w.redis.command("SCAN", cursor, "MATCH", pattern, "COUNT", "1000");
    if (!r) co_return std::move(r).error();
    if (r->type != redis::Reply::Type::array || r->elements.size() != 2)
      co_return Error{Errc::protocol_error, "unexpected SCAN reply"};
    cursor = r->elements[0].str;
    for (auto& k : r->elements[1].elements) {
      if (keys.size() >= kMaxListed) break;
      keys.push_back(std::move(k.str));
    }
  } while (cursor != "0" && keys.size() < kMaxListed);
  co_return keys;
}

asio::awaitable<Result<std::vector<BanEntry>>> Gateway::list_bans(std::size_t worker) {
  Worker& w = *workers_[std::min(worker, workers_.size() - 1)];
  auto out = bans_.list(now_unix());
  if (!config_.distributed) co_return out;
  const std::string prefix = config_.redis_prefix + "captcha:ban:";
  auto keys = co_await scan_keys(w, prefix + "*");
  if (!keys) co_return std::move(keys).error();
  for (const auto& k : *keys) {
    auto ttl = co_await w.redis.command("TTL", k);
    if (!ttl || ttl->type != redis::Reply::Type::integer || ttl->integer <= 0) continue;
    std::string rest = k.substr(prefix.size());  // "ip:1.2.3.4" or "user:u1"
    const auto colon = rest.find(':');
    if (colon == std::string::npos) continue;
    BanEntry e{rest.substr(0, colon), rest.substr(colon + 1), now_unix() + ttl->integer};
    const bool known = std::any_of(out.begin(), out.end(), [&](const BanEntry& b) {
      return b.kind == e.kind && b.value == e.value;
    });
    if (!known) out.push_back(std::move(e));
  }
  co_return out;
}

asio::awaitable<Result<bool>> Gateway::lift_ban(std::size_t worker, std::string kind,
                                                std::string value) {
  Worker& w = *workers_[std::min(worker, workers_.size() - 1)];
  bool lifted = bans_.lift(kind, value);
  if (config_.distributed) {
    const std::string key = config_.redis_prefix + "captcha:ban:" + kind + ":" + value;
    auto r = co_await w.redis.command("DEL", key);
    if (!r) co_return std::move(r).error();
    lifted = lifted || r->integer > 0;
  }
  co_return lifted;
}

asio::awaitable<Result<std::vector<ListedChallenge>>> Gateway::list_challenges(std::size_t worker) {
  Worker& w = *workers_[std::min(worker, workers_.size() - 1)];
  const std::string prefix = config_.redis_prefix + "captcha:c:";
  auto keys = co_await scan_keys(w, prefix + "*");
  if (!keys) co_return std::move(keys).error();
  std::vector<ListedChallenge> out;
  for (const auto& k : *keys) {
    auto ttl = co_await w.redis.command("TTL", k);
    if (!ttl || ttl->type != redis::Reply::Type::integer || ttl->integer <= 0) continue;
    out.push_back({k.substr(prefix.size()), ttl->integer});
  }
  co_return out;
}

asio::awaitable<Result<bool>> Gateway::drop_challenge(std::size_t worker, std::string id) {
  Worker& w = *workers_[std::min(worker, workers_.size() - 1)];
  auto taken = co_await w.store.take(id);
  if (!taken) co_return std::move(taken).error();
  const std::string image_key = config_.redis_prefix + "img:" + id;
  (void)co_await w.redis.command("DEL", image_key);
  co_return taken->has_value();
}

}  // namespace fs::gateway
