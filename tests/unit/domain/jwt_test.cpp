#include "domain/jwt.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <memory>
#include <string>

#include "common/clock.hpp"

namespace fs::auth {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kSecret = "test-secret";
constexpr std::int64_t kNow = 1'700'000'000;  // ManualClock's default start

// Computed independently with Python's hmac/base64 modules:
//   h = b64url('{"alg":"HS256","typ":"JWT"}'); p = b64url('{"sub":"user-000001","exp":1700003600}')
//   s = b64url(hmac.new(b"test-secret", (h + "." + p).encode(), sha256).digest())
constexpr std::string_view kUserToken =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTAwMDAwMSIsImV4cCI6MTcwMDAwMzYwMH0."
    "MUogVAVXKf0E2dlqoVXPIM5Sr82PmdFNE5tMy83hyyA";
// Same, payload '{"sub":"admin","exp":1700003600,"acct_created":1600000000,"role":"admin"}'.
constexpr std::string_view kAdminToken =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJhZG1pbiIsImV4cCI6MTcwMDAwMzYwMCwiYWNjdF9jcmVhdGVkIjoxNjAwMDAwMDAwLCJyb2xlIjoiYWRtaW"
    "4ifQ."
    "n6_bI1hx_WRT25ogcFPsv8u2ih5I8tiVwv8lKdgAqoc";

std::string b64url(std::string_view raw) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  auto byte = [&](std::size_t k) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(raw[k]));
  };
  for (; i + 3 <= raw.size(); i += 3) {
    const std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (raw.size() - i == 1) {
    const std::uint32_t v = byte(i) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (raw.size() - i == 2) {
    const std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

class JwtTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  JwtVerifier verifier_{std::string(kSecret), clock_};

  static Claims user(std::string sub = "user-000001", std::int64_t exp = kNow + 3600) {
    Claims c;
    c.sub = std::move(sub);
    c.exp = exp;
    return c;
  }
  // A token with our header and the given raw payload JSON, validly signed.
  static std::string signed_with_payload(std::string_view payload_json) {
    return sign_raw(b64url(R"({"alg":"HS256","typ":"JWT"})"), b64url(payload_json));
  }
  static std::string sign_raw(std::string_view header_b64, std::string_view payload_b64);
};

// sign_jwt only takes well-formed Claims, so hostile headers and payloads are signed here with
// OpenSSL's one-shot HMAC (an implementation independent of the verifier's own, see
// KeysOfEveryLengthSignAsOpenSslsHmac).
std::string JwtTest::sign_raw(std::string_view header_b64, std::string_view payload_b64) {
  std::string input = std::string(header_b64) + "." + std::string(payload_b64);
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + b64url(std::string_view(reinterpret_cast<const char*>(mac), len));
}

void expect_unauthorized(const Result<Claims>& r, std::string_view reason_part) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Errc::unauthorized);
  EXPECT_NE(r.error().message.find(reason_part), std::string::npos) << r.error().message;
}

TEST_F(JwtTest, RoundTrip) {
  Claims c = user();
  c.acct_created = 1'600'000'000;
  const auto token = sign_jwt(c, kSecret);
  const auto r = verifier_.verify(token);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->sub, "user-000001");
  EXPECT_EQ(r->exp, kNow + 3600);
  EXPECT_EQ(r->acct_created, 1'600'000'000);
  EXPECT_FALSE(r->is_admin());
}

TEST_F(JwtTest, MatchesIndependentlyComputedVector) {
  EXPECT_EQ(sign_jwt(user(), kSecret), kUserToken);
  const auto r = verifier_.verify(kUserToken);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->sub, "user-000001");
  EXPECT_FALSE(r->acct_created.has_value());
}

TEST_F(JwtTest, Rfc7515AppendixA1SignatureVerifies) {
  // RFC 7515 A.1: the signature is right, so the only complaint must be the claims it lacks.
  const unsigned char key[] = {0x03, 0x23, 0x35, 0x4b, 0x2b, 0x0f, 0xa5, 0xbc, 0x83, 0x7e, 0x06,
                               0x65, 0x77, 0x7b, 0xa6, 0x8f, 0x5a, 0xb3, 0x28, 0xe6, 0xf0, 0x54,
                               0xc9, 0x28, 0xa9, 0x0f, 0x84, 0xb2, 0xd2, 0x50, 0x2e, 0xbf, 0xd3,
                               0xfb, 0x5a, 0x92, 0xd2, 0x06, 0x47, 0xef, 0x96, 0x8a, 0xb4, 0xc3,
                               0x77, 0x62, 0x3d, 0x22, 0x3d, 0x2e, 0x21, 0x72, 0x05, 0x2e, 0x4f,
                               0x08, 0xc0, 0xcd, 0x9a, 0xf5, 0x67, 0xd0, 0x80, 0xa3};
  JwtVerifier v(std::string(reinterpret_cast<const char*>(key), sizeof key), clock_);
  const std::string token =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
      "fQ."
      "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  expect_unauthorized(v.verify(token), "sub");
  std::string forged = token;
  forged.back() = 'Y';
  expect_unauthorized(v.verify(forged), "signature");
}

// The verifier's HMAC keeps two precomputed hash states per key: keys shorter than, as long as,
// and longer than SHA-256's 64-byte block (hashed first), with zero and high bytes, must give
// OpenSSL's one-shot HMAC, and one thread switching between them must re-key every time.
TEST_F(JwtTest, KeysOfEveryLengthSignAsOpenSslsHmac) {
  for (int round = 0; round < 2; ++round) {
    for (std::size_t len : {1, 31, 32, 63, 64, 65, 127, 128, 131, 200}) {
      std::string key(len, '\0');
      for (std::size_t i = 0; i < len; ++i) key[i] = static_cast<char>((i * 167 + len) & 0xff);
      const std::string token = sign_jwt(user(), key);
      const auto dot = token.rfind('.');
      const std::string input = token.substr(0, dot);
      unsigned char mac[32];
      unsigned int mac_len = 0;
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len);
      EXPECT_EQ(token.substr(dot + 1),
                b64url(std::string_view(reinterpret_cast<const char*>(mac), mac_len)))
          << "key length " << len;
      JwtVerifier v(key, clock_);
      EXPECT_TRUE(v.verify(token).ok()) << "key length " << len;
      std::string other = key;
      other.back() = static_cast<char>(other.back() ^ 1);
      expect_unauthorized(JwtVerifier(other, clock_).verify(token), "signature");
    }
  }
}

TEST_F(JwtTest, AdminRole) {
  const auto r = verifier_.verify(kAdminToken);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->is_admin());
  EXPECT_EQ(r->sub, "admin");
  EXPECT_EQ(r->acct_created, 1'600'000'000);

  Claims c = user("ops");
  c.role = "admin";
  const auto r2 = verifier_.verify(sign_jwt(c, kSecret));
  ASSERT_TRUE(r2.ok());
  EXPECT_TRUE(r2->is_admin());
}

TEST_F(JwtTest, Expired) {
  const auto token = sign_jwt(user("u1", kNow + 10), kSecret);
  ASSERT_TRUE(verifier_.verify(token).ok());
  clock_.advance(9s);
  ASSERT_TRUE(verifier_.verify(token).ok());
  clock_.advance(1s);  // exp is exclusive: at exp the token is already dead
  expect_unauthorized(verifier_.verify(token), "expired");
  expect_unauthorized(verifier_.verify(sign_jwt(user("u1", kNow - 100), kSecret)), "expired");
}

TEST_F(JwtTest, ForgedSignature) {
  expect_unauthorized(verifier_.verify(sign_jwt(user(), "other-secret")), "signature");

  // A payload swapped under a valid signature (privilege escalation attempt).
  std::string admin_payload = std::string(kAdminToken.substr(0, kAdminToken.rfind('.')));
  std::string spliced = admin_payload + std::string(kUserToken.substr(kUserToken.rfind('.')));
  expect_unauthorized(verifier_.verify(spliced), "signature");

  // Truncated and extended signatures.
  std::string t(kUserToken);
  expect_unauthorized(verifier_.verify(t.substr(0, t.size() - 4)), "");
  expect_unauthorized(verifier_.verify(t + "AAAA"), "signature");
}

TEST_F(JwtTest, NonCanonicalSignatureEncodingIsRejected) {
  // The last char of a 43-char signature carries 2 unused bits; flipping them would decode to the
  // same bytes, so a lax decoder would accept a second spelling of the same token.
  std::string t(kUserToken);
  ASSERT_EQ(t.back(), 'A');
  t.back() = 'B';
  expect_unauthorized(verifier_.verify(t), "encoding");
}

TEST_F(JwtTest, AlgNoneAndOtherAlgorithmsAreRejected) {
  const std::string payload = b64url(R"({"sub":"user-000001","exp":1700003600,"role":"admin"})");
  const std::string none_header = b64url(R"({"alg":"none","typ":"JWT"})");
  expect_unauthorized(verifier_.verify(none_header + "." + payload + "."), "malformed");
  expect_unauthorized(verifier_.verify(none_header + "." + payload + ".c2ln"), "algorithm");
  // Even a correct HS256 MAC must not rescue a header that names another algorithm.
  for (const char* header : {R"({"alg":"RS256","typ":"JWT"})", R"({"alg":"HS512"})",
                             R"({"alg":"hs256"})", R"({"typ":"JWT"})", R"({"alg":256})"}) {
    const auto r = verifier_.verify(sign_raw(b64url(header), payload));
    ASSERT_FALSE(r.ok()) << header;
    EXPECT_EQ(r.code(), Errc::unauthorized);
  }
  expect_unauthorized(verifier_.verify(sign_raw(b64url(R"({"alg":"HS256","typ":"JWS"})"), payload)),
                      "type");
  expect_unauthorized(verifier_.verify(sign_raw(b64url("[1]"), payload)), "header");
  expect_unauthorized(
      verifier_.verify(sign_raw(b64url(R"({"alg":"HS256","crit":["exp"]})"), payload)), "header");
  // typ is optional.
  EXPECT_TRUE(verifier_.verify(sign_raw(b64url(R"({"alg":"HS256"})"), payload)).ok());
}

TEST_F(JwtTest, SubCharsetAndLength) {
  for (const char* bad : {"", "user 1", "user/1", "üser", "a\"b", "user\n"}) {
    const auto r = verifier_.verify(sign_jwt(user(bad), kSecret));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("sub"), std::string::npos);
  }
  EXPECT_TRUE(verifier_.verify(sign_jwt(user(std::string(64, 'a')), kSecret)).ok());
  expect_unauthorized(verifier_.verify(sign_jwt(user(std::string(65, 'a')), kSecret)), "sub");
  EXPECT_TRUE(verifier_.verify(sign_jwt(user("A.z-0_9"), kSecret)).ok());
  expect_unauthorized(verifier_.verify(signed_with_payload(R"({"sub":42,"exp":1700003600})")),
                      "sub");
  expect_unauthorized(verifier_.verify(signed_with_payload(R"({"exp":1700003600})")), "sub");
}

TEST_F(JwtTest, ClaimTypes) {
  expect_unauthorized(verifier_.verify(signed_with_payload(R"({"sub":"u"})")), "missing exp");
  expect_unauthorized(verifier_.verify(signed_with_payload(R"({"sub":"u","exp":"1700003600"})")),
                      "exp");
  expect_unauthorized(verifier_.verify(signed_with_payload(R"({"sub":"u","exp":1.7e10})")), "exp");
  expect_unauthorized(verifier_.verify(signed_with_payload(R"({"sub":"u","exp":null})")), "exp");
  expect_unauthorized(
      verifier_.verify(signed_with_payload(R"({"sub":"u","exp":1700003600,"acct_created":"x"})")),
      "acct_created");
  expect_unauthorized(
      verifier_.verify(signed_with_payload(R"({"sub":"u","exp":1700003600,"role":true})")), "role");
  expect_unauthorized(
      verifier_.verify(signed_with_payload(R"({"sub":"u","exp":1700003600,"nbf":1700000100})")),
      "not yet");
  expect_unauthorized(verifier_.verify(signed_with_payload(R"(["sub","u"])")), "claims");
  expect_unauthorized(verifier_.verify(signed_with_payload(R"("hello")")), "claims");
  expect_unauthorized(verifier_.verify(signed_with_payload(R"({"sub":"u",)")), "claims");
  // Unknown claims are ignored.
  EXPECT_TRUE(
      verifier_.verify(signed_with_payload(R"({"sub":"u","exp":1700003600,"iss":"x","aud":["a"]})"))
          .ok());
}

TEST_F(JwtTest, BadBase64AndSegments) {
  const std::string t(kUserToken);
  const auto dot1 = t.find('.');
  expect_unauthorized(verifier_.verify(""), "missing");
  expect_unauthorized(verifier_.verify("abc"), "malformed");
  expect_unauthorized(verifier_.verify("a.b"), "malformed");
  expect_unauthorized(verifier_.verify(t + ".x"), "malformed");
  expect_unauthorized(verifier_.verify("." + t.substr(dot1)), "malformed");
  expect_unauthorized(verifier_.verify(t.substr(0, dot1) + ".." + "sig"), "malformed");
  // Padding, standard-alphabet characters and whitespace are not base64url.
  expect_unauthorized(verifier_.verify(t.substr(0, dot1) + "=" + t.substr(dot1)), "encoding");
  std::string plus = t;
  plus[dot1 + 3] = '+';
  expect_unauthorized(verifier_.verify(plus), "");
  std::string space = t;
  space[dot1 + 3] = ' ';
  expect_unauthorized(verifier_.verify(space), "");
  // A length of 4n+1 can never be valid base64.
  expect_unauthorized(verifier_.verify(t.substr(0, dot1) + "A" + t.substr(dot1)), "encoding");
  // The signed part must be the exact bytes received: a re-padded payload fails.
  const std::string resigned = sign_raw(t.substr(0, dot1), "eyJzdWIiOiJ1In0=");
  EXPECT_FALSE(verifier_.verify(resigned).ok());
}

TEST_F(JwtTest, HugeTokenIsRejectedBeforeWork) {
  Claims c = user();
  c.role = std::string(5000, 'x');
  const auto token = sign_jwt(c, kSecret);
  ASSERT_GT(token.size(), 4096u);
  expect_unauthorized(verifier_.verify(token), "too large");
  expect_unauthorized(verifier_.verify(std::string(100'000, 'A')), "too large");
}

TEST_F(JwtTest, EmptySecretAcceptsNothing) {
  JwtVerifier v("", clock_);
  expect_unauthorized(v.verify(sign_jwt(user(), "")), "not configured");
}

TEST_F(JwtTest, VerifyBearer) {
  const std::string t(kUserToken);
  EXPECT_TRUE(verifier_.verify_bearer("Bearer " + t).ok());
  EXPECT_TRUE(verifier_.verify_bearer("bearer " + t).ok());
  EXPECT_TRUE(verifier_.verify_bearer("BEARER  " + t + " ").ok());
  expect_unauthorized(verifier_.verify_bearer(t), "bearer");
  expect_unauthorized(verifier_.verify_bearer("Basic dXNlcjpwYXNz"), "bearer");
  expect_unauthorized(verifier_.verify_bearer("Bearer"), "bearer");
  expect_unauthorized(verifier_.verify_bearer("Bearer "), "bearer");
  expect_unauthorized(verifier_.verify_bearer("Bearer" + t), "bearer");
  expect_unauthorized(verifier_.verify_bearer(""), "bearer");
  expect_unauthorized(verifier_.verify_bearer("Bearer " + t + " extra"), "");
}

TEST_F(JwtTest, ErrorsNeverEchoTokenOrSecret) {
  const std::string forged = sign_jwt(user(), "other-secret");
  const auto r = verifier_.verify(forged);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find(kSecret), std::string::npos);
  EXPECT_EQ(r.error().message.find(forged.substr(0, 20)), std::string::npos);
}

TEST_F(JwtTest, VerifiersWithDifferentSecretsOnOneThread) {
  // The per-thread HMAC context caches a key; alternating secrets must not leak between verifiers.
  JwtVerifier other("other-secret", clock_);
  const auto mine = sign_jwt(user(), kSecret);
  const auto theirs = sign_jwt(user(), "other-secret");
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(verifier_.verify(mine).ok());
    EXPECT_FALSE(verifier_.verify(theirs).ok());
    EXPECT_TRUE(other.verify(theirs).ok());
    EXPECT_FALSE(other.verify(mine).ok());
  }
}

TEST_F(JwtTest, CacheSlotsAreFoundBySignatureButMatchedOnEveryByte) {
  // The cache hashes a token's signature segment; a token that reuses a cached token's
  // signature under another payload lands in its slot and must still be verified from scratch.
  Claims c = user();
  const auto genuine = sign_jwt(c, kSecret);
  ASSERT_TRUE(verifier_.verify(genuine).ok());
  ASSERT_TRUE(verifier_.verify(genuine).ok());  // cached now (tokens enter when seen twice)
  c.sub = "mallory";
  const auto other = sign_jwt(c, kSecret);
  const auto sig_at = genuine.rfind('.');
  const std::string spliced = other.substr(0, other.rfind('.')) + genuine.substr(sig_at);
  for (int i = 0; i < 2; ++i) {
    expect_unauthorized(verifier_.verify(spliced), "signature");
    auto again = verifier_.verify(genuine);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->sub, user().sub);
  }
}

TEST_F(JwtTest, CachedTokensDoNotOutliveTheirVerifier) {
  // Verified tokens are cached per thread; a later verifier with another secret (even at the
  // same address) must verify from scratch.
  const auto token = sign_jwt(user(), "first-secret");
  for (int i = 0; i < 3; ++i) {
    auto v = std::make_unique<JwtVerifier>("first-secret", clock_);
    EXPECT_TRUE(v->verify(token).ok());
    EXPECT_TRUE(v->verify(token).ok());
    v.reset();
    v = std::make_unique<JwtVerifier>("second-secret", clock_);
    expect_unauthorized(v->verify(token), "signature");
  }
}

}  // namespace
}  // namespace fs::auth
