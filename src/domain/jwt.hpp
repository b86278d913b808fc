#pragma once
// JWT HS256 (RFC 7519 / RFC 7515 compact form) signing and verification with OpenSSL HMAC.
// Rules (api.md): alg must be HS256; `sub` is 1-64 chars of [A-Za-z0-9_.-]; `exp` is required
// and must be in the future; `acct_created` (unix seconds) and `role` are optional.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.hpp"
#include "common/result.hpp"

namespace fs::auth {

struct Claims {
  std::string sub;
  std::int64_t exp = 0;                      // unix seconds
  std::optional<std::int64_t> acct_created;  // unix seconds
  std::string role;                          // "admin" for admin endpoints, else empty
  bool is_admin() const { return role == "admin"; }
};

// Signs claims as a compact HS256 JWT.
std::string sign_jwt(const Claims& claims, std::string_view secret);

class JwtVerifier {
 public:
  JwtVerifier(std::string secret, const Clock& clock);
  // Errors are Errc::unauthorized with a short reason (never echoing the token or secret).
  // Recently verified tokens are remembered per thread (exact bytes; `exp` re-checked).
  Result<Claims> verify(std::string_view token) const;
  // Parses "Bearer <token>" from an Authorization header value, then verify().
  Result<Claims> verify_bearer(std::string_view authorization_header) const;

 private:
  Result<Claims> verify_uncached(std::string_view token) const;

  std::string secret_;
  const Clock& clock_;
  std::uint64_t id_;  // tells this verifier's cached tokens from another's
};

namespace detail {
// The claims of a token whose signature verified, judged at `now` (unix seconds): with
// flat_scanner, a flat claims object is read without a DOM (flat_json.hpp); without, always
// through Boost.JSON. The two give the same answer (tests/fuzz/jwt_fuzz.cpp).
Result<Claims> read_claims(std::string_view payload, std::int64_t now, bool flat_scanner);
}  // namespace detail

}  // namespace fs::auth
