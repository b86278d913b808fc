#include "crowd/gateway_layers.hpp"

#include <algorithm>
#include <cstdlib>
#include <random>

namespace fs::crowd {
namespace {

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(v >> shift) & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    const bool two = i + 1 < in.size();
    if (two) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += two ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace

std::string human_user_agent() {
  return "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0 Safari/537.36";
}
std::string human_signals_header() {
  return base64(R"({"webgl":true,"canvas":true,"pointer_events":31,"ms_since_load":5400})");
}
std::string bot_user_agent() {
  return "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "HeadlessChrome/120.0 Safari/537.36";
}
std::string bot_signals_header() {
  return base64(
      R"({"webgl":false,"canvas":false,"pointer_events":0,"ms_since_load":35,"webdriver":true})");
}

std::vector<std::uint32_t> click_order(std::size_t humans, std::size_t per_human, std::size_t bots,
                                       std::size_t per_bot, std::uint64_t seed) {
  std::vector<std::uint32_t> users(humans + bots);
  for (std::size_t u = 0; u < users.size(); ++u) users[u] = static_cast<std::uint32_t>(u);
  std::mt19937_64 rng(seed);
  std::shuffle(users.begin(), users.end(), rng);
  std::vector<std::uint32_t> order;
  order.reserve(humans * per_human + bots * per_bot);
  for (auto u : users) order.insert(order.end(), u < humans ? per_human : per_bot, u);
  return order;
}

LayerCounts count_layers(const OutcomeTally& tally) {
  LayerCounts c;
  for (const auto& o : tally.sorted()) {
    c.total += o.count;
    if (o.status == 429)
      c.rate_limited += o.count;
    else if (o.status == 503 && o.code == "overloaded")
      c.queue_full += o.count;
    else if (o.status == 408)
      c.timed_out += o.count;
    else if (o.status == 403)
      c.bot_blocked += o.count;
    else if (o.status == 410)
      c.sold_out += o.count;
    else if (o.status == 201)
      c.reserved += o.count;
    else
      c.other += o.count;
  }
  return c;
}

std::int64_t queued_from_metrics(std::string_view text) {
  constexpr std::string_view kFast = "flashsale_admission_queue_wait_seconds_bucket{le=\"0.001\"} ";
  constexpr std::string_view kCount = "flashsale_admission_queue_wait_seconds_count ";
  auto value_after = [&](std::string_view key) -> std::int64_t {
    auto pos = text.find(key);
    if (pos == std::string_view::npos) return -1;
    return std::strtoll(std::string(text.substr(pos + key.size(), 24)).c_str(), nullptr, 10);
  };
  const auto fast = value_after(kFast), count = value_after(kCount);
  if (fast < 0 || count < 0) return -1;
  return count - fast;
}

}  // namespace fs::crowd
