#include "common/random.hpp"

#include <openssl/rand.h>

#include <cstring>
#include <stdexcept>

namespace fs {

namespace {

std::string uuid_text(const std::array<unsigned char, 16>& b) {
  // Written by index into a string sized once (a push_back per character was ~780 instructions
  // per id, on every reservation).
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  std::size_t at = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) ++at;  // the dash already there
    out[at++] = kHex[b[i] >> 4];
    out[at++] = kHex[b[i] & 0x0F];
  }
  return out;
}

}  // namespace

std::string Random::uuid_v4() {
  std::array<unsigned char, 16> b{};
  fill(b.data(), b.size());
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
  return uuid_text(b);
}

std::string Random::uuid_v7(std::int64_t unix_ms) {
  std::array<unsigned char, 16> b{};
  fill(b.data() + 6, b.size() - 6);
  const auto ms = static_cast<std::uint64_t>(unix_ms < 0 ? 0 : unix_ms);
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x70);
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
  return uuid_text(b);
}

std::string Random::hex(std::size_t n_bytes) {
  std::string raw(n_bytes, '\0');
  fill(raw.data(), raw.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n_bytes * 2);
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0x0F]);
  }
  return out;
}

void SecureRandom::fill(void* out, std::size_t n) {
  // Refill a 4 KiB per-thread pool so one uuid costs a memcpy, not a RAND_bytes call.
  thread_local unsigned char pool[4096];
  thread_local std::size_t left = 0;
  auto* dst = static_cast<unsigned char*>(out);
  while (n > 0) {
    if (left == 0) {
      if (RAND_bytes(pool, sizeof pool) != 1) throw std::runtime_error("RAND_bytes failed");
      left = sizeof pool;
    }
    std::size_t take = n < left ? n : left;
    std::memcpy(dst, pool + (sizeof pool - left), take);
    left -= take;
    dst += take;
    n -= take;
  }
}

SecureRandom& SecureRandom::instance() {
  static SecureRandom r;
  return r;
}

void SeededRandom::fill(void* out, std::size_t n) {
  auto* dst = static_cast<unsigned char*>(out);
  while (n > 0) {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    std::size_t take = n < 8 ? n : 8;
    std::memcpy(dst, &z, take);
    dst += take;
    n -= take;
  }
}

}  // namespace fs
