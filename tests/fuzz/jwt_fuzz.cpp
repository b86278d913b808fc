// JWT verification (domain/jwt.cpp) on hostile tokens and Authorization headers. Properties:
// an accepted token has claims within api.md's rules; a token signed with another secret is
// never accepted; the input spliced into a genuine token never yields other claims than the
// genuine ones (no forgery by malleable base64 or parser confusion); sign → verify round-trips;
// the claims reader answers alike with and without its flat scanner.
#include <string>

#include "common/clock.hpp"
#include "domain/jwt.hpp"
#include "fuzz_check.hpp"

namespace {

void check_accepted(const fs::auth::Claims& c, const fs::Clock& clock) {
  FUZZ_CHECK(fs::fuzz::api_identifier(c.sub));
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(clock.now().time_since_epoch()).count();
  FUZZ_CHECK(c.exp > now);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fs::ManualClock clock;
  static const fs::auth::JwtVerifier verifier("fuzz-secret", clock);
  static const fs::auth::JwtVerifier other("another-secret", clock);
  const std::string_view text = fs::fuzz::as_text(data, size);

  // 1. The input as a token and as an Authorization header.
  if (auto r = verifier.verify(text)) check_accepted(*r, clock);
  if (auto r = verifier.verify_bearer(text)) check_accepted(*r, clock);

  // 2. A genuine token with the input written over part of it. It is signed with a secret of its
  // own: the seeds hold tokens signed with "fuzz-secret" (so that 1. reaches the claims), and
  // splicing one of those in whole would be a genuine token, not a forgery.
  static const fs::auth::JwtVerifier splice("splice-secret", clock);
  fs::auth::Claims genuine;
  genuine.sub = "buyer-42";
  genuine.exp = 1'700'000'000 + 3600;
  genuine.acct_created = 1'600'000'000;
  const std::string token = fs::auth::sign_jwt(genuine, "splice-secret");
  FUZZ_CHECK(splice.verify(token).ok());
  FUZZ_CHECK(!other.verify(token).ok());
  if (size > 0) {
    std::string tampered = token;
    const std::size_t at = data[0] % tampered.size();
    tampered.replace(at, std::min(tampered.size() - at, size - 1), text.substr(1));
    if (auto r = splice.verify(tampered)) {
      FUZZ_CHECK(r->sub == genuine.sub && r->exp == genuine.exp &&
                 r->acct_created == genuine.acct_created && r->role == genuine.role);
    }
  }

  // 3. Round trip: a valid subject signs and verifies to the same claims, and only with our
  // secret.
  fs::auth::Claims mine;
  mine.sub = std::string(text.substr(0, 64));
  mine.exp = 1'700'000'000 + 60;
  if (fs::fuzz::api_identifier(mine.sub)) {
    const std::string t = fs::auth::sign_jwt(mine, "fuzz-secret");
    auto r = verifier.verify(t);
    FUZZ_CHECK(r.ok() && r->sub == mine.sub && r->exp == mine.exp && !r->is_admin());
    FUZZ_CHECK(!other.verify(t).ok());
  }

  // 4. The input as the claims of a verified token: the flat scanner and Boost.JSON judge them
  // alike (same claims, or the same rejection).
  {
    const std::int64_t now = 1'700'000'000;
    auto fast = fs::auth::detail::read_claims(text, now, true);
    auto dom = fs::auth::detail::read_claims(text, now, false);
    FUZZ_CHECK(fast.ok() == dom.ok());
    if (fast && dom)
      FUZZ_CHECK(fast->sub == dom->sub && fast->exp == dom->exp &&
                 fast->acct_created == dom->acct_created && fast->role == dom->role);
    if (!fast && !dom) FUZZ_CHECK(fast.error().message == dom.error().message);
  }
  return 0;
}
