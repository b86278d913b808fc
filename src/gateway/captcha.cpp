#include "gateway/captcha.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <stdexcept>

#include "common/constant_time.hpp"

namespace fs::gateway {
namespace {

std::int64_t unix_now(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::seconds>(clock.now().time_since_epoch()).count();
}

std::string to_hex(const unsigned char* data, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 15];
  }
  return out;
}

std::string normalize_answer(std::string_view answer) {
  while (!answer.empty() && std::isspace(static_cast<unsigned char>(answer.front()))) {
    answer.remove_prefix(1);
  }
  while (!answer.empty() && std::isspace(static_cast<unsigned char>(answer.back()))) {
    answer.remove_suffix(1);
  }
  std::string out(answer);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string answer_hash(std::string_view salt_hex, std::string_view answer) {
  const std::string normalized = normalize_answer(answer);
  std::string message;
  message.reserve(salt_hex.size() + normalized.size());
  message.append(salt_hex).append(normalized);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_Digest(message.data(), message.size(), digest, &digest_len, EVP_sha256(), nullptr);
  return to_hex(digest, digest_len);
}

bool parse_i64(std::string_view s, std::int64_t& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc{} && end == s.data() + s.size();
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

std::string StoredChallenge::serialize() const {
  return salt_hex + ":" + answer_hash_hex + ":" + std::to_string(expires_at_unix);
}

std::optional<StoredChallenge> StoredChallenge::parse(std::string_view text) {
  auto first = text.find(':');
  auto second = first == std::string_view::npos ? first : text.find(':', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  StoredChallenge out;
  out.salt_hex = std::string(text.substr(0, first));
  out.answer_hash_hex = std::string(text.substr(first + 1, second - first - 1));
  if (out.salt_hex.empty() || out.answer_hash_hex.size() != 64 ||
      !parse_i64(text.substr(second + 1), out.expires_at_unix)) {
    return std::nullopt;
  }
  return out;
}

CaptchaGenerator::CaptchaGenerator(Random& random, const Clock& clock, CaptchaConfig config)
    : random_(random), clock_(clock), config_(config) {
  if (config.min_length < 1 || config.max_length < config.min_length) {
    throw std::invalid_argument("CaptchaConfig: bad lengths");
  }
}

std::int64_t CaptchaGenerator::uniform(std::int64_t lo, std::int64_t hi) {
  // Modulo bias is irrelevant for drawing pixels and is < 2^-50 for these tiny ranges.
  return lo +
         static_cast<std::int64_t>(random_.next_u64() % static_cast<std::uint64_t>(hi - lo + 1));
}

std::string CaptchaGenerator::render_svg(std::string_view text) {
  const int width = 30 + 32 * static_cast<int>(text.size());
  const int height = 70;
  static constexpr std::array<const char*, 6> kInk{"#1f3a93", "#8e2c2c", "#2d6a4f",
                                                   "#5b2a86", "#7a4b00", "#333333"};
  std::string svg;
  svg.reserve(4096);
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                "viewBox=\"0 0 %d %d\"><rect width=\"100%%\" height=\"100%%\" fill=\"#f4f1ea\"/>",
                width, height, width, height);
  svg += buf;
  for (int i = 0, n = static_cast<int>(uniform(4, 6)); i < n; ++i) {
    std::snprintf(buf, sizeof buf,
                  "<path d=\"M%lld %lld Q%lld %lld %lld %lld\" stroke=\"%s\" stroke-width=\"%lld\" "
                  "fill=\"none\" opacity=\"0.6\"/>",
                  static_cast<long long>(uniform(0, width / 4)),
                  static_cast<long long>(uniform(5, height - 5)),
                  static_cast<long long>(uniform(width / 4, 3 * width / 4)),
                  static_cast<long long>(uniform(0, height)),
                  static_cast<long long>(uniform(3 * width / 4, width)),
                  static_cast<long long>(uniform(5, height - 5)), kInk[uniform(0, 5)],
                  static_cast<long long>(uniform(1, 3)));
    svg += buf;
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    const long long x = 18 + 32 * static_cast<long long>(i) + uniform(-4, 4);
    const long long y = 46 + uniform(-8, 8);
    std::snprintf(buf, sizeof buf,
                  "<text x=\"%lld\" y=\"%lld\" font-family=\"monospace\" font-size=\"%lld\" "
                  "font-weight=\"bold\" fill=\"%s\" transform=\"rotate(%lld %lld %lld) "
                  "skewX(%lld)\">%c</text>",
                  x, y, static_cast<long long>(uniform(30, 38)), kInk[uniform(0, 5)],
                  static_cast<long long>(uniform(-30, 30)), x, y,
                  static_cast<long long>(uniform(-12, 12)), text[i]);
    svg += buf;
  }
  for (int i = 0, n = static_cast<int>(uniform(40, 70)); i < n; ++i) {
    std::snprintf(buf, sizeof buf, "<circle cx=\"%lld\" cy=\"%lld\" r=\"%lld\" fill=\"%s\"/>",
                  static_cast<long long>(uniform(0, width)),
                  static_cast<long long>(uniform(0, height)), static_cast<long long>(uniform(1, 2)),
                  kInk[uniform(0, 5)]);
    svg += buf;
  }
  svg += "</svg>";
  return svg;
}

CaptchaChallenge CaptchaGenerator::generate() {
  CaptchaChallenge c;
  const auto length = uniform(config_.min_length, config_.max_length);
  for (std::int64_t i = 0; i < length; ++i) {
    c.answer.push_back(kCaptchaAlphabet[static_cast<std::size_t>(
        uniform(0, static_cast<std::int64_t>(kCaptchaAlphabet.size()) - 1))]);
  }
  c.id = random_.hex(16);
  c.stored.salt_hex = random_.hex(16);
  c.stored.answer_hash_hex = answer_hash(c.stored.salt_hex, c.answer);
  c.stored.expires_at_unix = unix_now(clock_) + config_.ttl.count();
  c.svg = render_svg(c.answer);
  return c;
}

CaptchaVerdict check_captcha_answer(const StoredChallenge& stored, std::string_view answer,
                                    const Clock& clock) {
  if (unix_now(clock) >= stored.expires_at_unix) return CaptchaVerdict::expired;
  if (answer.size() > 64) return CaptchaVerdict::wrong;
  return constant_time_equal(answer_hash(stored.salt_hex, answer), stored.answer_hash_hex)
             ? CaptchaVerdict::correct
             : CaptchaVerdict::wrong;
}

void CaptchaVerifier::add(const CaptchaChallenge& challenge) {
  if (++adds_since_sweep_ >= 1024) {
    adds_since_sweep_ = 0;
    evict_expired();
  }
  pending_[challenge.id] = challenge.stored;
}

CaptchaVerdict CaptchaVerifier::verify(std::string_view id, std::string_view answer) {
  auto it = pending_.find(std::string(id));
  if (it == pending_.end()) return CaptchaVerdict::unknown;
  const StoredChallenge stored = std::move(it->second);
  pending_.erase(it);  // single use: a wrong guess burns the challenge
  return check_captcha_answer(stored, answer, clock_);
}

void CaptchaVerifier::evict_expired() {
  const auto now = unix_now(clock_);
  std::erase_if(pending_, [&](const auto& kv) { return kv.second.expires_at_unix <= now; });
}

CaptchaTokenSigner::CaptchaTokenSigner(std::string secret, const Clock& clock,
                                       std::chrono::seconds ttl)
    : secret_(std::move(secret)), clock_(clock), ttl_(ttl) {
  if (secret_.size() < 16) throw std::invalid_argument("captcha token secret too short");
}

std::string CaptchaTokenSigner::mac(std::string_view user_id, std::string_view ip,
                                    std::int64_t expiry) const {
  std::string message;
  message.reserve(user_id.size() + ip.size() + 24);
  message.append(user_id).push_back('\0');
  message.append(ip).push_back('\0');
  message += std::to_string(expiry);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &digest_len);
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(digest), digest_len));
}

std::string CaptchaTokenSigner::issue(std::string_view user_id, std::string_view ip) const {
  const std::int64_t expiry = unix_now(clock_) + ttl_.count();
  return std::to_string(expiry) + "." + mac(user_id, ip, expiry);
}

Status CaptchaTokenSigner::verify(std::string_view token, std::string_view user_id,
                                  std::string_view ip) const {
  auto dot = token.find('.');
  std::int64_t expiry = 0;
  if (dot == std::string_view::npos || !parse_i64(token.substr(0, dot), expiry)) {
    return Error{Errc::captcha_required, "malformed captcha token"};
  }
  if (!constant_time_equal(mac(user_id, ip, expiry), token.substr(dot + 1))) {
    return Error{Errc::captcha_required, "invalid captcha token"};
  }
  if (unix_now(clock_) >= expiry) return Error{Errc::captcha_required, "captcha token expired"};
  return {};
}

}  // namespace fs::gateway
