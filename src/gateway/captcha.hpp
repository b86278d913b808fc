#pragma once
// In-process CAPTCHA (flow 10): a random text rendered to a distorted SVG, the answer kept only
// as a salted SHA-256, single use with a TTL; and the signed pass (`captcha_token`) a solver gets,
// bound to user and IP. Storage of challenges across instances is CaptchaStore (Redis).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.hpp"
#include "common/random.hpp"
#include "common/result.hpp"

namespace fs::gateway {

// Letters and digits that cannot be confused with each other (no 0/O, 1/I/L, 5/S, 2/Z, 8/B).
inline constexpr std::string_view kCaptchaAlphabet = "ACDEFGHJKMNPQRTUVWXY34679";

struct CaptchaConfig {
  int min_length = 5;
  int max_length = 6;
  std::chrono::seconds ttl{120};
};

// What is kept about a challenge: enough to check an answer, not enough to read it.
struct StoredChallenge {
  std::string salt_hex;
  std::string answer_hash_hex;  // SHA-256(salt || upper-cased answer)
  std::int64_t expires_at_unix = 0;

  // "salt:hash:expiry" for storage; parse() returns nullopt on anything else.
  std::string serialize() const;
  static std::optional<StoredChallenge> parse(std::string_view text);
};

struct CaptchaChallenge {
  std::string id;      // 32 hex chars
  std::string answer;  // the text to read; never sent to the client or stored
  std::string svg;     // image/svg+xml
  StoredChallenge stored;
};

class CaptchaGenerator {
 public:
  CaptchaGenerator(Random& random, const Clock& clock, CaptchaConfig config = {});
  CaptchaChallenge generate();
  const CaptchaConfig& config() const { return config_; }

 private:
  std::int64_t uniform(std::int64_t lo, std::int64_t hi);  // inclusive
  std::string render_svg(std::string_view text);

  Random& random_;
  const Clock& clock_;
  CaptchaConfig config_;
};

enum class CaptchaVerdict { correct, wrong, expired, unknown };

// Pure check: TTL against `clock`, case-insensitive, surrounding spaces ignored, constant-time.
CaptchaVerdict check_captcha_answer(const StoredChallenge& stored, std::string_view answer,
                                    const Clock& clock);

// Single-process store of pending challenges: every challenge can be tried once, whatever the
// outcome, so guessing costs a new challenge each time. Not thread-safe (one per I/O thread, or
// use CaptchaStore, which also works across instances).
class CaptchaVerifier {
 public:
  explicit CaptchaVerifier(const Clock& clock) : clock_(clock) {}
  void add(const CaptchaChallenge& challenge);
  CaptchaVerdict verify(std::string_view id, std::string_view answer);
  // Drops expired challenges; add() calls it now and then.
  void evict_expired();
  std::size_t size() const { return pending_.size(); }

 private:
  const Clock& clock_;
  std::unordered_map<std::string, StoredChallenge> pending_;
  std::size_t adds_since_sweep_ = 0;
};

// `captcha_token`: "<expiry unix>.<base64url HMAC-SHA256(secret, user \0 ip \0 expiry)>".
class CaptchaTokenSigner {
 public:
  CaptchaTokenSigner(std::string secret, const Clock& clock,
                     std::chrono::seconds ttl = std::chrono::seconds{300});
  std::string issue(std::string_view user_id, std::string_view ip) const;
  // Errc::captcha_required when the token is malformed, forged, expired, or for another user/IP.
  Status verify(std::string_view token, std::string_view user_id, std::string_view ip) const;

 private:
  std::string mac(std::string_view user_id, std::string_view ip, std::int64_t expiry) const;

  std::string secret_;
  const Clock& clock_;
  std::chrono::seconds ttl_;
};

std::string base64url_encode(std::string_view bytes);

}  // namespace fs::gateway
