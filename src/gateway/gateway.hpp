#pragma once
// The gateway in front of the reservation service: the layers of flows 8 and 10, in the order a
// request meets them (cheapest and broadest first):
//   edge: client IP token bucket -> user token bucket -> bans
//   bot:  score > threshold without a valid X-Captcha-Token -> CAPTCHA challenge
//   admission: leaky-bucket FIFO queue -> concurrency limit
// HTTP-free: the API layer (src/api/gateway_routes.cpp) turns requests into ShopperContext and
// rejections into api.md responses. Shared by all I/O threads; per-thread parts are indexed by
// the worker number of the request.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "common/random.hpp"
#include "common/result.hpp"
#include "gateway/admission_gate.hpp"
#include "gateway/ban_list.hpp"
#include "gateway/captcha.hpp"
#include "gateway/client_ip.hpp"
#include "gateway/concurrency_limit.hpp"
#include "gateway/gateway_config.hpp"

namespace fs::redis {
class Client;
}
namespace fs::metrics {
class GatewayMetrics;
}

namespace fs::gateway {

class BotScorer;
class SharedTokenBuckets;

// What the gateway needs to know about a shopper request. Views point into the request.
struct ShopperContext {
  std::string ip;       // resolved client IP
  std::string user_id;  // empty: not authenticated
  std::string_view user_agent;
  std::optional<std::string_view> client_signals;  // X-Client-Signals; nullopt when absent
  std::string_view captcha_token;                  // X-Captcha-Token; empty when absent
  std::optional<std::int64_t> account_created_unix;
};

struct Rejection {
  Errc code = Errc::rate_limited;
  std::string message;
  std::int64_t retry_after_seconds = 0;  // 0: no Retry-After
  std::string captcha_id;                // set with captcha_required
};

// Holds a reservation's place under the concurrency limit (and in the in-flight gauge) until
// destroyed.
class Admission {
 public:
  Admission() = default;
  Admission(ConcurrencyLimit::Permit permit, metrics::GatewayMetrics* metrics);
  Admission(Admission&& o) noexcept;
  Admission& operator=(Admission&& o) noexcept;
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
  ~Admission() { release(); }
  void release();

 private:
  ConcurrencyLimit::Permit permit_;
  metrics::GatewayMetrics* metrics_ = nullptr;  // null: nothing to count down
};

struct CaptchaSolution {
  bool solved = false;
  std::string token;             // when solved
  std::int64_t ban_seconds = 0;  // when not solved: the ban now in force
};

struct ListedChallenge {
  std::string id;
  std::int64_t ttl_seconds = 0;
};

class Gateway {
 public:
  // `threads`: I/O threads that will call add_worker(). Each gets its own admission queue; the
  // queues share one drain budget (rate, burst, maximum length are the process').
  Gateway(GatewayConfig config, const Clock& clock, metrics::GatewayMetrics* metrics,
          std::size_t threads);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Once per I/O thread at start-up, in worker order. `redis` must live as long as the gateway
  // and be bound to `executor`.
  void add_worker(boost::asio::any_io_executor executor, redis::Client& redis);

  const GatewayConfig& config() const { return config_; }
  std::string client_ip(std::string_view peer, std::string_view forwarded_for) const;

  // IP bucket, then (with a user) the user bucket and the bans.
  boost::asio::awaitable<std::optional<Rejection>> check_edge(std::size_t worker,
                                                              const ShopperContext& ctx);
  // Bot score; above the threshold without a valid captcha token, a fresh challenge.
  boost::asio::awaitable<std::optional<Rejection>> check_bot(std::size_t worker,
                                                             const ShopperContext& ctx);
  // Admission queue then concurrency limit. Errors: overloaded, queue_timeout, cancelled.
  boost::asio::awaitable<Result<Admission>> admit(std::size_t worker,
                                                  const DisconnectHook* on_disconnect);
  // The same in steps, for a request that waits without a coroutine (the HTTP server parks it,
  // http::Parking): join_queue (AdmissionGate::join on the worker's gate; Ok(0), admitted, also
  // when the queue is off), when queued wait_in_queue with the waiter to tell, then, once admitted
  // or told its turn, take_slot (the concurrency limit). leave_queue when the client went away;
  // queue_alive is false once the gate is gone (shutdown). Worker-thread only.
  Result<AdmissionQueue::Ticket> join_queue(std::size_t worker);
  void wait_in_queue(std::size_t worker, AdmissionQueue::Ticket ticket,
                     AdmissionGate::Waiter& waiter);  // right after join_queue
  void leave_queue(std::size_t worker, AdmissionQueue::Ticket ticket);
  const std::shared_ptr<bool>& queue_alive(std::size_t worker) const;
  Result<Admission> take_slot();

  // CAPTCHA endpoints. image: Errc::not_found when unknown or expired.
  boost::asio::awaitable<Result<std::string>> captcha_image(std::size_t worker, std::string id);
  // A wrong, expired or already used answer bans the IP and the user.
  boost::asio::awaitable<Result<CaptchaSolution>> solve_captcha(std::size_t worker, std::string id,
                                                                std::string answer, std::string ip,
                                                                std::string user_id);

  // Admin.
  boost::asio::awaitable<Result<std::vector<BanEntry>>> list_bans(std::size_t worker);
  boost::asio::awaitable<Result<bool>> lift_ban(std::size_t worker, std::string kind,
                                                std::string value);
  boost::asio::awaitable<Result<std::vector<ListedChallenge>>> list_challenges(std::size_t worker);
  boost::asio::awaitable<Result<bool>> drop_challenge(std::size_t worker, std::string id);

  std::size_t queue_length() const;  // all gates (call from any thread only in tests)
  std::int64_t in_flight() const { return concurrency_.in_flight(); }

 private:
  struct Worker;
  std::int64_t now_unix() const;
  boost::asio::awaitable<std::optional<Rejection>> check_bans(Worker& w, const ShopperContext& ctx);
  boost::asio::awaitable<Result<std::vector<std::string>>> scan_keys(Worker& w,
                                                                     std::string pattern);

  GatewayConfig config_;
  std::size_t threads_;
  const Clock& clock_;
  metrics::GatewayMetrics* metrics_;
  ClientIpResolver resolver_;
  std::unique_ptr<SharedTokenBuckets> ip_buckets_;
  std::unique_ptr<SharedTokenBuckets> user_buckets_;
  std::unique_ptr<BotScorer> scorer_;
  CaptchaTokenSigner signer_;
  BanList bans_;
  ConcurrencyLimit concurrency_;
  std::shared_ptr<DrainBudget> drain_budget_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace fs::gateway
