#include "gateway/bot_scorer.hpp"

#include <algorithm>
#include <array>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cmath>
#include <string>

namespace fs::gateway {
namespace {

constexpr std::int64_t kMinuteNs = 60'000'000'000;
constexpr std::size_t kMaxSignalsBytes = 4096;  // a real header is ~100 bytes

constexpr std::array<std::int8_t, 256> make_base64_table() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  const char* std_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  for (int i = 0; i < 62; ++i)
    t[static_cast<unsigned char>(std_alphabet[i])] = static_cast<std::int8_t>(i);
  t['+'] = t['-'] = 62;
  t['/'] = t['_'] = 63;
  return t;
}
constexpr auto kBase64 = make_base64_table();

// Lower-cases the User-Agent once (ASCII only; the markers are ASCII) so each marker is one
// string_view::find; a UA longer than the buffer is judged on its first kMaxUserAgent bytes.
constexpr std::size_t kMaxUserAgent = 512;
struct LowerUserAgent {
  explicit LowerUserAgent(std::string_view ua) : size(std::min(ua.size(), kMaxUserAgent)) {
    for (std::size_t i = 0; i < size; ++i) {
      const char c = ua[i];
      text[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
  }
  bool contains(std::string_view marker) const {
    return std::string_view(text, size).find(marker) != std::string_view::npos;
  }
  char text[kMaxUserAgent];
  std::size_t size;
};

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

std::optional<std::string> decode_base64_any(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = kBase64[static_cast<unsigned char>(c)];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::optional<ClientSignals> parse_client_signals(std::string_view header) {
  if (header.size() > kMaxSignalsBytes) return std::nullopt;
  auto json_text = decode_base64_any(header);
  if (!json_text) return std::nullopt;
  // The tiny document lives in an arena on the stack: no heap allocation for the values.
  unsigned char buffer[2048];
  boost::json::monotonic_resource arena(buffer, sizeof buffer);
  boost::system::error_code ec;
  auto value = boost::json::parse(*json_text, ec, &arena);
  if (ec || !value.is_object()) return std::nullopt;
  const auto& object = value.get_object();

  ClientSignals signals;
  auto read_bool = [&](std::string_view name, std::optional<bool>& out) {
    auto it = object.find(name);
    if (it == object.end() || it->value().is_null()) return true;
    if (!it->value().is_bool()) return false;
    out = it->value().get_bool();
    return true;
  };
  auto read_int = [&](std::string_view name, std::optional<std::int64_t>& out) {
    auto it = object.find(name);
    if (it == object.end() || it->value().is_null()) return true;
    if (it->value().is_int64()) {
      out = it->value().get_int64();
    } else if (it->value().is_uint64()) {
      out = INT64_MAX;
    } else {
      return false;
    }
    return *out >= 0;
  };
  if (!read_bool("webgl", signals.webgl) || !read_bool("canvas", signals.canvas) ||
      !read_bool("webdriver", signals.webdriver) ||
      !read_int("pointer_events", signals.pointer_events) ||
      !read_int("ms_since_load", signals.ms_since_load)) {
    return std::nullopt;
  }
  return signals;
}

bool headless_user_agent(std::string_view user_agent) {
  const LowerUserAgent ua(user_agent);
  for (std::string_view marker :
       {"headlesschrome", "phantomjs", "puppeteer", "selenium", "playwright", "webdriver"}) {
    if (ua.contains(marker)) return true;
  }
  return false;
}

bool script_user_agent(std::string_view user_agent) {
  const LowerUserAgent ua(user_agent);
  for (std::string_view marker : {"python-requests", "python-urllib", "aiohttp", "curl/", "wget/",
                                  "go-http-client", "okhttp", "node-fetch", "axios/"}) {
    if (ua.contains(marker)) return true;
  }
  return false;
}

BotScorer::BotScorer(const Clock& clock, BotScorerConfig config)
    : clock_(clock),
      config_(config),
      ip_rate_(kMinuteNs, config.max_tracked_keys),
      user_rate_(kMinuteNs, config.max_tracked_keys) {}

double BotScorer::rate_feature(double per_minute) const {
  if (per_minute <= config_.human_rate_per_minute) return 0;
  return std::min(config_.max_rate_doublings,
                  std::log2(per_minute / config_.human_rate_per_minute));
}

BotScore BotScorer::score(const BotRequest& request) {
  const auto& w = config_.weights;
  const std::int64_t now_ns = clock_.steady_ns();
  BotScore result;
  double z = w.bias;

  if (!request.client_signals) {
    z += w.missing_signals;
  } else if (auto signals = parse_client_signals(*request.client_signals)) {
    if (signals->webdriver.value_or(false)) z += w.webdriver;
    if (signals->webgl == false) z += w.no_webgl;
    if (signals->canvas == false) z += w.no_canvas;
    if (signals->pointer_events == 0) z += w.no_pointer_events;
    if (signals->ms_since_load && *signals->ms_since_load < config_.instant_click_ms) {
      z += w.instant_click;
    }
  } else {
    result.signals_malformed = true;
    ++malformed_signals_;
    z += w.malformed_signals;
  }

  if (headless_user_agent(request.user_agent)) {
    z += w.headless_user_agent;
  } else if (script_user_agent(request.user_agent)) {
    z += w.script_user_agent;
  }

  if (!request.ip.empty()) {
    result.ip_rate_per_minute = ip_rate_.add(request.ip, now_ns);
    z += w.ip_rate_doublings * rate_feature(result.ip_rate_per_minute);
  }
  if (!request.user_id.empty()) {
    result.user_rate_per_minute = user_rate_.add(request.user_id, now_ns);
    z += w.user_rate_doublings * rate_feature(result.user_rate_per_minute);
  }

  if (request.account_created_unix) {
    const auto now_unix =
        std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
    if (now_unix - *request.account_created_unix < config_.fresh_account_seconds) {
      z += w.fresh_account;
    }
  }

  result.score = 100.0 * sigmoid(z);
  result.is_bot = result.score > config_.threshold;
  return result;
}

}  // namespace fs::gateway
