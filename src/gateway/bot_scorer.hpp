#pragma once
// Bot scoring for the reservation hot path (flow 10 of the sequence diagrams): a logistic model
// over a handful of cheap signals. score = 100 * sigmoid(bias + sum(weight_i * feature_i)).
// Above the threshold the gateway answers 403 captcha_required.
#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/clock.hpp"
#include "gateway/sliding_window_counter.hpp"

namespace fs::gateway {

// The X-Client-Signals header (api.md): every field optional, unknown fields ignored.
struct ClientSignals {
  std::optional<bool> webgl;
  std::optional<bool> canvas;
  std::optional<std::int64_t> pointer_events;
  std::optional<std::int64_t> ms_since_load;
  std::optional<bool> webdriver;
};

// Base64 (standard or URL-safe, padded or not) of a JSON object. nullopt when malformed: not
// base64, not JSON, not an object, or a known field of the wrong type.
std::optional<ClientSignals> parse_client_signals(std::string_view header);

// Base64 decoding accepting both alphabets, with or without '=' padding.
std::optional<std::string> decode_base64_any(std::string_view text);

// Weights of the logistic model; each names the feature it multiplies. Features are 0/1 unless
// stated. The defaults put a browser with normal signals near 2 and a headless script near 99;
// the absence of the header alone (an API client) only moves the bias a little.
struct BotWeights {
  double bias = -4.0;
  double webdriver = 4.5;            // navigator.webdriver is true
  double headless_user_agent = 4.0;  // HeadlessChrome, PhantomJS, puppeteer, selenium, ...
  double script_user_agent = 1.0;    // python-requests, curl, Go-http-client: also real API clients
  double no_webgl = 1.5;             // signals say webgl false
  double no_canvas = 1.5;            // signals say canvas false
  double no_pointer_events = 1.5;    // signals say 0 mouse/touch events before the click
  double instant_click = 1.5;        // ms_since_load below BotScorerConfig::instant_click_ms
  double malformed_signals = 2.0;    // a header is present but unreadable: a sloppy forgery
  double missing_signals = 0.5;      // no header at all (API client): weak on purpose
  // Per doubling of the request rate above the human ceiling (humans: < 10/min).
  double ip_rate_doublings = 1.0;
  double user_rate_doublings = 1.0;
  double fresh_account = 1.5;  // JWT acct_created less than a day ago
};

struct BotScorerConfig {
  BotWeights weights;
  double threshold = 80.0;  // score > threshold: CAPTCHA
  double human_rate_per_minute = 10.0;
  double max_rate_doublings = 6.0;  // caps the rate features so they cannot dominate alone
  std::int64_t instant_click_ms = 300;
  std::int64_t fresh_account_seconds = 86'400;
  std::size_t max_tracked_keys = 100'000;  // per rate counter
};

struct BotRequest {
  std::string_view ip;
  std::string_view user_id;  // empty: anonymous
  std::string_view user_agent;
  std::optional<std::string_view> client_signals;    // nullopt: header absent
  std::optional<std::int64_t> account_created_unix;  // JWT acct_created
};

struct BotScore {
  double score = 0;  // 0..100
  bool is_bot = false;
  bool signals_malformed = false;
  double ip_rate_per_minute = 0;
  double user_rate_per_minute = 0;
};

// Thread-safe: one instance serves every I/O thread, so the per-IP and per-user rates it sees
// are the process' whole traffic (striped locks inside SharedSlidingWindowCounter).
class BotScorer {
 public:
  explicit BotScorer(const Clock& clock, BotScorerConfig config = {});

  // Scores the request and counts it towards its IP's and user's request rates.
  BotScore score(const BotRequest& request);

  std::uint64_t malformed_signals_seen() const { return malformed_signals_.load(); }
  const BotScorerConfig& config() const { return config_; }

 private:
  double rate_feature(double per_minute) const;

  const Clock& clock_;
  BotScorerConfig config_;
  SharedSlidingWindowCounter ip_rate_;
  SharedSlidingWindowCounter user_rate_;
  std::atomic<std::uint64_t> malformed_signals_{0};
};

// True when the User-Agent names a headless browser or automation driver.
bool headless_user_agent(std::string_view user_agent);
// True when the User-Agent is a scripting HTTP library (curl, python-requests, ...).
bool script_user_agent(std::string_view user_agent);

}  // namespace fs::gateway
