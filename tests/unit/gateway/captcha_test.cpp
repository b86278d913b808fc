#include "gateway/captcha.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "common/clock.hpp"
#include "common/random.hpp"

namespace fs::gateway {
namespace {

using std::chrono::seconds;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST(CaptchaGenerator, TextComesFromTheUnambiguousAlphabet) {
  ManualClock clock;
  SeededRandom random(42);
  CaptchaGenerator generator(random, clock);
  std::set<std::size_t> lengths;
  for (int i = 0; i < 200; ++i) {
    auto c = generator.generate();
    lengths.insert(c.answer.size());
    for (char ch : c.answer) {
      EXPECT_NE(kCaptchaAlphabet.find(ch), std::string_view::npos) << ch;
    }
    for (char ambiguous : std::string("0O1IL5S2Z8B")) {
      EXPECT_EQ(c.answer.find(ambiguous), std::string::npos);
    }
    EXPECT_EQ(c.id.size(), 32u);
  }
  EXPECT_EQ(lengths, (std::set<std::size_t>{5, 6}));
}

TEST(CaptchaGenerator, SvgDrawsEveryGlyphDistortedWithNoise) {
  ManualClock clock;
  SeededRandom random(7);
  CaptchaGenerator generator(random, clock);
  auto c = generator.generate();
  EXPECT_TRUE(c.svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_TRUE(c.svg.ends_with("</svg>"));
  std::size_t glyphs = 0;
  for (auto pos = c.svg.find("<text"); pos != std::string::npos;
       pos = c.svg.find("<text", pos + 1)) {
    ++glyphs;
  }
  EXPECT_EQ(glyphs, c.answer.size());
  for (char ch : c.answer)
    EXPECT_NE(c.svg.find(std::string(">") + ch + "</text>"), std::string::npos);
  EXPECT_NE(c.svg.find("rotate("), std::string::npos);
  EXPECT_GE(std::count(c.svg.begin(), c.svg.end(), 'Q'), 4);  // noise curves
  EXPECT_NE(c.svg.find("<circle"), std::string::npos);        // noise dots
  // The answer is not stored in clear.
  EXPECT_EQ(c.stored.serialize().find(c.answer), std::string::npos);
}

TEST(CaptchaGenerator, FreshEachTimeAndReproducibleWithTheSameSeed) {
  ManualClock clock;
  SeededRandom a(99), b(99);
  CaptchaGenerator ga(a, clock), gb(b, clock);
  auto first = ga.generate();
  auto second = ga.generate();
  EXPECT_NE(first.id, second.id);
  EXPECT_NE(first.svg, second.svg);
  EXPECT_NE(first.stored.salt_hex, second.stored.salt_hex);
  auto replay = gb.generate();
  EXPECT_EQ(first.svg, replay.svg);
  EXPECT_EQ(first.answer, replay.answer);
}

TEST(CaptchaAnswer, CaseInsensitiveAndTrimmed) {
  ManualClock clock;
  SeededRandom random(1);
  CaptchaGenerator generator(random, clock);
  auto c = generator.generate();
  EXPECT_EQ(check_captcha_answer(c.stored, c.answer, clock), CaptchaVerdict::correct);
  EXPECT_EQ(check_captcha_answer(c.stored, lower(c.answer), clock), CaptchaVerdict::correct);
  EXPECT_EQ(check_captcha_answer(c.stored, " " + c.answer + "\n", clock), CaptchaVerdict::correct);
  EXPECT_EQ(check_captcha_answer(c.stored, c.answer + "X", clock), CaptchaVerdict::wrong);
  EXPECT_EQ(check_captcha_answer(c.stored, "", clock), CaptchaVerdict::wrong);
  EXPECT_EQ(check_captcha_answer(c.stored, std::string(1000, 'A'), clock), CaptchaVerdict::wrong);
}

TEST(CaptchaAnswer, SameTextDifferentSaltsHashDifferently) {
  ManualClock clock;
  SeededRandom random(3);
  CaptchaGenerator generator(random, clock);
  auto a = generator.generate();
  auto b = generator.generate();
  StoredChallenge swapped = b.stored;
  swapped.answer_hash_hex = a.stored.answer_hash_hex;
  EXPECT_EQ(check_captcha_answer(swapped, a.answer, clock), CaptchaVerdict::wrong);
}

TEST(StoredChallenge, SerializesAndRejectsGarbage) {
  ManualClock clock;
  SeededRandom random(5);
  auto c = CaptchaGenerator(random, clock).generate();
  auto back = StoredChallenge::parse(c.stored.serialize());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->salt_hex, c.stored.salt_hex);
  EXPECT_EQ(back->answer_hash_hex, c.stored.answer_hash_hex);
  EXPECT_EQ(back->expires_at_unix, c.stored.expires_at_unix);
  for (auto bad : {"", "a:b", "a:b:c", "salt:short:1",
                   ":0000000000000000000000000000000000000000000000000000000000000000:1"}) {
    EXPECT_FALSE(StoredChallenge::parse(bad)) << bad;
  }
}

TEST(CaptchaVerifier, SingleUseEvenAfterAWrongAnswer) {
  ManualClock clock;
  SeededRandom random(11);
  CaptchaGenerator generator(random, clock);
  CaptchaVerifier verifier(clock);
  auto c = generator.generate();
  verifier.add(c);
  EXPECT_EQ(verifier.verify(c.id, "WRONG"), CaptchaVerdict::wrong);
  EXPECT_EQ(verifier.verify(c.id, c.answer), CaptchaVerdict::unknown);

  auto d = generator.generate();
  verifier.add(d);
  EXPECT_EQ(verifier.verify(d.id, d.answer), CaptchaVerdict::correct);
  EXPECT_EQ(verifier.verify(d.id, d.answer), CaptchaVerdict::unknown);
  EXPECT_EQ(verifier.verify("nope", "x"), CaptchaVerdict::unknown);
}

TEST(CaptchaVerifier, ExpiresAfterTtl) {
  ManualClock clock;
  SeededRandom random(12);
  CaptchaGenerator generator(random, clock, {.ttl = seconds{60}});
  CaptchaVerifier verifier(clock);
  auto early = generator.generate();
  auto late = generator.generate();
  verifier.add(early);
  verifier.add(late);
  clock.advance(seconds{59});
  EXPECT_EQ(verifier.verify(early.id, early.answer), CaptchaVerdict::correct);
  clock.advance(seconds{1});
  EXPECT_EQ(verifier.verify(late.id, late.answer), CaptchaVerdict::expired);

  verifier.add(generator.generate());
  clock.advance(seconds{61});
  verifier.evict_expired();
  EXPECT_EQ(verifier.size(), 0u);
}

TEST(CaptchaToken, RoundTripBoundToUserAndIp) {
  ManualClock clock;
  CaptchaTokenSigner signer("0123456789abcdef-secret", clock, seconds{300});
  auto token = signer.issue("user-1", "198.51.100.4");
  EXPECT_TRUE(signer.verify(token, "user-1", "198.51.100.4").ok());
  EXPECT_EQ(signer.verify(token, "user-2", "198.51.100.4").code(), Errc::captcha_required);
  EXPECT_EQ(signer.verify(token, "user-1", "198.51.100.5").code(), Errc::captcha_required);
  // The separator keeps ("ab", "c") and ("a", "bc") apart.
  auto ab = signer.issue("ab", "c");
  EXPECT_FALSE(signer.verify(ab, "a", "bc").ok());
  // URL-safe: no characters needing escaping in a header.
  EXPECT_EQ(token.find_first_of("+/= "), std::string::npos);
}

TEST(CaptchaToken, ExpiresAfterTtl) {
  ManualClock clock;
  CaptchaTokenSigner signer("0123456789abcdef-secret", clock, seconds{300});
  auto token = signer.issue("u", "1.2.3.4");
  clock.advance(seconds{299});
  EXPECT_TRUE(signer.verify(token, "u", "1.2.3.4").ok());
  clock.advance(seconds{1});
  EXPECT_EQ(signer.verify(token, "u", "1.2.3.4").code(), Errc::captcha_required);
}

TEST(CaptchaToken, ForgeriesAreRejected) {
  ManualClock clock;
  CaptchaTokenSigner signer("0123456789abcdef-secret", clock, seconds{300});
  CaptchaTokenSigner other("another-secret-of-16+", clock, seconds{300});
  auto token = signer.issue("u", "1.2.3.4");
  EXPECT_FALSE(signer.verify(other.issue("u", "1.2.3.4"), "u", "1.2.3.4").ok());
  // Extending the expiry invalidates the MAC.
  auto dot = token.find('.');
  auto extended = std::to_string(std::stoll(token.substr(0, dot)) + 3600) + token.substr(dot);
  EXPECT_FALSE(signer.verify(extended, "u", "1.2.3.4").ok());
  std::string flipped = token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(signer.verify(flipped, "u", "1.2.3.4").ok());
  for (auto bad : {"", ".", "abc", "123.", ".abc", "x.y", "99999999999999999999.abc"}) {
    EXPECT_EQ(signer.verify(bad, "u", "1.2.3.4").code(), Errc::captcha_required) << bad;
  }
  EXPECT_THROW(CaptchaTokenSigner("short", clock), std::invalid_argument);
}

}  // namespace
}  // namespace fs::gateway
