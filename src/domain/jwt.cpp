#include "domain/jwt.hpp"

// For SHA256_Init/Update/Final (see ThreadHmac).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <array>
#include <atomic>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

#include "common/ascii.hpp"
#include "common/constant_time.hpp"
#include "domain/flat_json.hpp"

namespace fs::auth {
namespace {

namespace json = boost::json;

// Far above any real token of ours (~250 bytes) yet small enough that every buffer below fits
// on the stack: a verify never touches the heap for decoding or parsing.
constexpr std::size_t kMaxTokenBytes = 4096;
constexpr std::size_t kMaxDecodedBytes = kMaxTokenBytes / 4 * 3 + 3;
constexpr std::size_t kSha256Bytes = 32;
constexpr std::size_t kMaxSubLength = 64;

// base64url of {"alg":"HS256","typ":"JWT"}: every token we sign shares it.
constexpr std::string_view kSignedHeader = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

constexpr char kBase64UrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::int8_t, 256> make_decode_table() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i)
    t[static_cast<unsigned char>(kBase64UrlAlphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}
constexpr auto kDecodeTable = make_decode_table();

void base64url_append(std::string& out, const unsigned char* data, std::size_t n) {
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v =
        (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) | data[i + 2];
    out.push_back(kBase64UrlAlphabet[(v >> 18) & 63]);
    out.push_back(kBase64UrlAlphabet[(v >> 12) & 63]);
    out.push_back(kBase64UrlAlphabet[(v >> 6) & 63]);
    out.push_back(kBase64UrlAlphabet[v & 63]);
  }
  if (n - i == 1) {
    const std::uint32_t v = std::uint32_t{data[i]} << 16;
    out.push_back(kBase64UrlAlphabet[(v >> 18) & 63]);
    out.push_back(kBase64UrlAlphabet[(v >> 12) & 63]);
  } else if (n - i == 2) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8);
    out.push_back(kBase64UrlAlphabet[(v >> 18) & 63]);
    out.push_back(kBase64UrlAlphabet[(v >> 12) & 63]);
    out.push_back(kBase64UrlAlphabet[(v >> 6) & 63]);
  }
}

// Strict RFC 7515 base64url: no padding, no whitespace, and the unused low bits of the last
// character must be zero, so each byte string has exactly one accepted encoding (otherwise a
// signature could be re-encoded into a "different" token that still verifies).
// Returns the decoded length, or -1.
std::ptrdiff_t base64url_decode(std::string_view in, unsigned char* out, std::size_t cap) {
  if (in.size() % 4 == 1) return -1;
  const std::size_t out_len = in.size() / 4 * 3 + (in.size() % 4 == 0 ? 0 : in.size() % 4 - 1);
  if (out_len > cap) return -1;
  std::size_t o = 0;
  std::size_t i = 0;
  auto sextet = [&](std::size_t k) { return kDecodeTable[static_cast<unsigned char>(in[k])]; };
  for (; i + 4 <= in.size(); i += 4) {
    const int a = sextet(i), b = sextet(i + 1), c = sextet(i + 2), d = sextet(i + 3);
    if ((a | b | c | d) < 0) return -1;
    const std::uint32_t v = (std::uint32_t(a) << 18) | (std::uint32_t(b) << 12) |
                            (std::uint32_t(c) << 6) | std::uint32_t(d);
    out[o++] = static_cast<unsigned char>(v >> 16);
    out[o++] = static_cast<unsigned char>(v >> 8);
    out[o++] = static_cast<unsigned char>(v);
  }
  const std::size_t rest = in.size() - i;
  if (rest == 2) {
    const int a = sextet(i), b = sextet(i + 1);
    if ((a | b) < 0 || (b & 0x0F) != 0) return -1;
    out[o++] = static_cast<unsigned char>((a << 2) | (b >> 4));
  } else if (rest == 3) {
    const int a = sextet(i), b = sextet(i + 1), c = sextet(i + 2);
    if ((a | b | c) < 0 || (c & 0x03) != 0) return -1;
    const std::uint32_t v =
        (std::uint32_t(a) << 18) | (std::uint32_t(b) << 12) | (std::uint32_t(c) << 6);
    out[o++] = static_cast<unsigned char>(v >> 16);
    out[o++] = static_cast<unsigned char>(v >> 8);
  }
  return static_cast<std::ptrdiff_t>(o);
}

// HMAC-SHA256 (RFC 2104) from the two hash states that only depend on the key, computed once per
// thread and secret: a MAC is then a copy of each state, the message and one block. Through
// EVP_MAC, OpenSSL 3 re-derived this per call behind its provider dispatch (EVP_MAC_init, three
// EVP_MD_CTX copies, cleanses): about 2,000 instructions per verify besides the hashing, i.e. 8 %
// of a sold-out answer's. The low-level SHA256 functions are deprecated in OpenSSL 3 in favour
// of EVP but kept through 3.x, and they run the same block function (SHA-NI where the CPU has
// it); this file is their only user.
class ThreadHmac {
 public:
  ThreadHmac() = default;
  ~ThreadHmac() { forget_key(); }
  ThreadHmac(const ThreadHmac&) = delete;
  ThreadHmac& operator=(const ThreadHmac&) = delete;

  // HMAC-SHA256(secret, data) into out; false only on an OpenSSL failure.
  bool sign(std::string_view secret, std::string_view data, unsigned char (&out)[kSha256Bytes]) {
    if (!(keyed_ && key_ == secret) && !rekey(secret)) return false;
    SHA256_CTX ctx = inner_;
    unsigned char inner_digest[kSha256Bytes];
    if (SHA256_Update(&ctx, data.data(), data.size()) != 1 || SHA256_Final(inner_digest, &ctx) != 1)
      return false;
    // No cleanse after: SHA256_Final wipes the buffered block, and what stays is the MAC.
    ctx = outer_;
    return SHA256_Update(&ctx, inner_digest, sizeof inner_digest) == 1 &&
           SHA256_Final(out, &ctx) == 1;
  }

  static ThreadHmac& local() {
    thread_local ThreadHmac h;
    return h;
  }

 private:
  static constexpr std::size_t kBlock = 64;  // SHA-256's block size

  bool rekey(std::string_view secret) {
    forget_key();
    // K0: the key, hashed first if longer than a block, zero-padded to a block.
    std::array<unsigned char, kBlock> k0{};
    if (secret.size() > kBlock) {
      if (SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), k0.data()) ==
          nullptr)
        return false;
    } else {
      std::memcpy(k0.data(), secret.data(), secret.size());
    }
    std::array<unsigned char, kBlock> pad;
    bool ok = true;
    for (auto [state, byte] : {std::pair{&inner_, 0x36}, std::pair{&outer_, 0x5c}}) {
      for (std::size_t i = 0; i < kBlock; ++i) pad[i] = static_cast<unsigned char>(k0[i] ^ byte);
      ok = ok && SHA256_Init(state) == 1 && SHA256_Update(state, pad.data(), pad.size()) == 1;
    }
    OPENSSL_cleanse(k0.data(), k0.size());
    OPENSSL_cleanse(pad.data(), pad.size());
    if (!ok) return false;
    key_.assign(secret);
    keyed_ = true;
    return true;
  }

  void forget_key() {
    OPENSSL_cleanse(key_.data(), key_.size());
    OPENSSL_cleanse(&inner_, sizeof inner_);
    OPENSSL_cleanse(&outer_, sizeof outer_);
    keyed_ = false;
  }

  SHA256_CTX inner_{};  // after H's first block, K0 ^ ipad
  SHA256_CTX outer_{};  // after H's first block, K0 ^ opad
  std::string key_;
  bool keyed_ = false;
};

Error reject(const char* reason) { return Error{Errc::unauthorized, reason}; }

// Tokens this thread verified recently, keyed by their exact bytes: a shopper clicking "Buy"
// again sends the same token, and its HMAC and claims need not be recomputed. Direct-mapped and
// bounded (a colliding token replaces the entry). Only fully verified tokens enter; a hit still
// re-checks `exp` against the clock (and `nbf` was already in the past when it entered). The
// comparison is constant-time, so timing tells nothing about the bytes of a cached token.
//
// A token enters on its second sighting only. In a sale's burst most tokens are seen once (each
// shopper's click, answered 410 from memory), and caching each of them cost a write of ~250
// bytes into a cold slot plus the slot's misses: with 4096 slots the table outgrows this CPU's
// L2, and the lookup was the sold-out path's most expensive function of its own. First
// sightings now only note the hash (8 bytes, a 32 KiB table) and lookups of tokens never seen
// before stop at that note.
class VerifiedTokens {
 public:
  static constexpr std::size_t kSlots = 4096;
  static constexpr std::size_t kSeen = 4096;

  const Claims* find(std::uint64_t verifier, std::string_view token) {
    const std::size_t h = hash(token);
    if (seen_[h % kSeen] != h) return nullptr;  // not seen lately, so not in a slot either
    Slot& s = slots_[h % kSlots];
    // The full hash first: a slot held by another token is passed over without a compare.
    if (s.verifier != verifier || s.hash != h || !constant_time_equal(s.token, token))
      return nullptr;
    return &s.claims;
  }
  void put(std::uint64_t verifier, std::string_view token, const Claims& claims) {
    const std::size_t h = hash(token);
    if (std::exchange(seen_[h % kSeen], h) != h) return;  // first sighting
    Slot& s = slots_[h % kSlots];
    s.verifier = verifier;
    s.hash = h;
    s.token.assign(token.data(), token.size());
    s.claims = claims;
  }
  static VerifiedTokens& local() {
    thread_local VerifiedTokens cache;
    return cache;
  }

 private:
  struct Slot {
    std::uint64_t verifier = 0;  // 0: empty
    std::size_t hash = 0;
    std::string token;
    Claims claims;
  };
  // The signature segment only (the last 43 characters of an HS256 token): it is an HMAC, so
  // as good a spread as the whole token, for a quarter of the bytes. Equality is still decided
  // on every byte of the token (find), so tokens sharing a signature only share a slot.
  static std::size_t hash(std::string_view token) {
    const auto dot = token.rfind('.');
    return std::hash<std::string_view>{}(dot == std::string_view::npos ? token
                                                                       : token.substr(dot + 1));
  }
  std::vector<Slot> slots_ = std::vector<Slot>(kSlots);
  std::vector<std::size_t> seen_ = std::vector<std::size_t>(kSeen);  // 0: nothing seen
};

std::uint64_t next_verifier_id() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

// JWT numbers are NumericDate; we only accept whole seconds (what we sign) in int64 range.
using flat_json::Field;

// The claims verify reads, in the order of the Fields read_claims gets.
constexpr std::array<std::string_view, 5> kClaimKeys{"sub", "exp", "nbf", "acct_created", "role"};

// A JSON integer that fits an int64 (Boost.JSON holds every such number as int64; larger ones,
// fractions and other types are not integers here).
std::optional<std::int64_t> as_integer(const Field& f) {
  if (f.kind == Field::Kind::int64) return f.number;
  return std::nullopt;
}

bool valid_sub(std::string_view sub) {
  if (sub.empty() || sub.size() > kMaxSubLength) return false;
  for (char c : sub) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status check_header(const json::value& header) {
  const auto* obj = header.if_object();
  if (obj == nullptr) return reject("malformed token header");
  const auto* alg = obj->if_contains("alg");
  if (alg == nullptr || !alg->is_string()) return reject("malformed token header");
  // Exactly HS256: "none" and asymmetric algorithms are the classic JWT confusion attacks.
  if (alg->get_string() != "HS256") return reject("unsupported token algorithm");
  if (const auto* typ = obj->if_contains("typ")) {
    if (!typ->is_string() || !ascii_iequals(typ->get_string(), "JWT"))
      return reject("unsupported token type");
  }
  // RFC 7515 4.1.11: extensions we do not understand must make the token invalid.
  if (obj->contains("crit")) return reject("unsupported token header");
  return {};
}

}  // namespace

std::string sign_jwt(const Claims& claims, std::string_view secret) {
  json::object payload;
  payload["sub"] = claims.sub;
  payload["exp"] = claims.exp;
  if (claims.acct_created) payload["acct_created"] = *claims.acct_created;
  if (!claims.role.empty()) payload["role"] = claims.role;
  const std::string body = json::serialize(payload);

  std::string token;
  token.reserve(kSignedHeader.size() + 2 + (body.size() + 2) / 3 * 4 + 43);
  token.append(kSignedHeader);
  token.push_back('.');
  base64url_append(token, reinterpret_cast<const unsigned char*>(body.data()), body.size());
  unsigned char mac[kSha256Bytes];
  if (!ThreadHmac::local().sign(secret, token, mac)) throw std::runtime_error("HMAC-SHA256 failed");
  token.push_back('.');
  base64url_append(token, mac, sizeof mac);
  return token;
}

JwtVerifier::JwtVerifier(std::string secret, const Clock& clock)
    : secret_(std::move(secret)), clock_(clock), id_(next_verifier_id()) {}

Result<Claims> JwtVerifier::verify(std::string_view token) const {
  if (!secret_.empty() && !token.empty() && token.size() <= kMaxTokenBytes) {
    auto& cache = VerifiedTokens::local();
    if (const Claims* hit = cache.find(id_, token)) {
      const std::int64_t now =
          std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
      if (hit->exp <= now) return reject("token expired");
      return *hit;
    }
    auto verified = verify_uncached(token);
    if (verified) cache.put(id_, token, *verified);
    return verified;
  }
  return verify_uncached(token);
}

Result<Claims> JwtVerifier::verify_uncached(std::string_view token) const {
  // An empty secret would make every token forgeable; a misconfigured server accepts nobody.
  if (secret_.empty()) return reject("authentication is not configured");
  if (token.empty()) return reject("missing token");
  if (token.size() > kMaxTokenBytes) return reject("token too large");

  const std::size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return reject("malformed token");
  const std::size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return reject("malformed token");
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_b64 = token.substr(dot2 + 1);
  if (header_b64.empty() || payload_b64.empty() || signature_b64.empty())
    return reject("malformed token");

  std::array<unsigned char, kMaxDecodedBytes> decoded;
  // Parse results live in this buffer, so json::parse does not allocate either.
  std::array<unsigned char, 8192> arena;

  // The header first: it decides which algorithm we would even consider. Every token we sign
  // carries the same header, known to pass check_header; anything else is decoded and checked.
  if (header_b64 != kSignedHeader) {
    const auto n = base64url_decode(header_b64, decoded.data(), decoded.size());
    if (n < 0) return reject("malformed token encoding");
    json::monotonic_resource mr(arena.data(), arena.size());
    boost::system::error_code ec;
    const json::value header =
        json::parse(json::string_view(reinterpret_cast<const char*>(decoded.data()),
                                      static_cast<std::size_t>(n)),
                    ec, &mr);
    if (ec) return reject("malformed token header");
    if (auto st = check_header(header); !st) return std::move(st).error();
  }

  // Then the signature, before anything in the payload is trusted.
  {
    unsigned char given[kSha256Bytes + 3];
    const auto n = base64url_decode(signature_b64, given, sizeof given);
    if (n < 0) return reject("malformed token encoding");
    unsigned char expected[kSha256Bytes];
    if (!ThreadHmac::local().sign(secret_, token.substr(0, dot2), expected))
      return reject("signature check failed");
    if (n != static_cast<std::ptrdiff_t>(kSha256Bytes) ||
        !constant_time_equal(given, expected, kSha256Bytes))
      return reject("bad token signature");
  }

  const auto n = base64url_decode(payload_b64, decoded.data(), decoded.size());
  if (n < 0) return reject("malformed token encoding");
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
  return detail::read_claims(
      std::string_view(reinterpret_cast<const char*>(decoded.data()), static_cast<std::size_t>(n)),
      now, true);
}

namespace detail {
namespace {

// The claims from their Fields (in kClaimKeys' order). The Fields' strings point into the
// token or the DOM, which must outlive this call.
Result<Claims> claims_from(const std::array<Field, kClaimKeys.size()>& fields, std::int64_t now) {
  const Field& sub = fields[0];
  const Field& exp = fields[1];
  const Field& nbf = fields[2];
  const Field& created = fields[3];
  const Field& role = fields[4];

  Claims claims;
  if (sub.kind != Field::Kind::string || !valid_sub(sub.text)) return reject("invalid sub claim");
  claims.sub.assign(sub.text.data(), sub.text.size());

  if (exp.kind == Field::Kind::absent) return reject("missing exp claim");
  const auto exp_value = as_integer(exp);
  if (!exp_value) return reject("invalid exp claim");
  claims.exp = *exp_value;
  if (claims.exp <= now) return reject("token expired");

  // Not required by api.md, but a token that says "not yet" must not pass (RFC 7519 4.1.5).
  if (nbf.kind != Field::Kind::absent) {
    const auto nbf_value = as_integer(nbf);
    if (!nbf_value) return reject("invalid nbf claim");
    if (*nbf_value > now) return reject("token not yet valid");
  }

  if (created.kind != Field::Kind::absent) {
    const auto v = as_integer(created);
    if (!v) return reject("invalid acct_created claim");
    claims.acct_created = *v;
  }
  if (role.kind != Field::Kind::absent) {
    if (role.kind != Field::Kind::string || role.text.size() > kMaxSubLength)
      return reject("invalid role claim");
    claims.role.assign(role.text.data(), role.text.size());
  }
  return claims;
}

}  // namespace

Result<Claims> read_claims(std::string_view payload, std::int64_t now, bool flat_scanner) {
  // Our tokens' claims are a flat object ({"sub":"buyer-1","exp":1764000000}): the scanner
  // reads them without a DOM; anything else goes through Boost.JSON, whose DOM lives in a stack
  // buffer. Either way the claims are judged from the same Fields.
  std::array<Field, kClaimKeys.size()> fields;
  if (flat_scanner && flat_json::scan(payload, kClaimKeys, fields)) return claims_from(fields, now);
  std::array<unsigned char, 8192> arena;
  json::monotonic_resource mr(arena.data(), arena.size());
  boost::system::error_code ec;
  const json::value v = json::parse(json::string_view(payload.data(), payload.size()), ec, &mr);
  if (ec) return reject("malformed token claims");
  const auto* obj = v.if_object();
  if (obj == nullptr) return reject("malformed token claims");
  for (std::size_t i = 0; i < fields.size(); ++i)
    fields[i] = flat_json::field_of(*obj, kClaimKeys[i]);
  return claims_from(fields, now);  // while the DOM the Fields point into is alive
}

}  // namespace detail

Result<Claims> JwtVerifier::verify_bearer(std::string_view authorization_header) const {
  constexpr std::string_view kScheme = "bearer";
  std::string_view v = authorization_header;
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  if (v.size() <= kScheme.size() || !ascii_iequals(v.substr(0, kScheme.size()), kScheme) ||
      (v[kScheme.size()] != ' ' && v[kScheme.size()] != '\t'))
    return reject("missing bearer token");
  v.remove_prefix(kScheme.size());
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.empty()) return reject("missing bearer token");
  return verify(v);
}

}  // namespace fs::auth
