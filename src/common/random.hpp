#pragma once
// Injected randomness: ids and tokens come from a Random& so tests are reproducible.
#include <array>
#include <cstdint>
#include <string>

namespace fs {

class Random {
 public:
  virtual ~Random() = default;
  virtual void fill(void* out, std::size_t n) = 0;
  std::uint64_t next_u64() {
    std::uint64_t v;
    fill(&v, sizeof v);
    return v;
  }
  // RFC 4122 version-4 UUID text.
  std::string uuid_v4();
  // RFC 9562 version-7 UUID text: the 48-bit Unix time in milliseconds, then 74 random bits.
  // Ids made in time order sort in time order (to the millisecond), so a B-tree index on them
  // grows at its right edge instead of at random pages.
  std::string uuid_v7(std::int64_t unix_ms);
  // n random bytes as lowercase hex.
  std::string hex(std::size_t n_bytes);
};

// OpenSSL's CSPRNG (RAND_bytes), with a per-thread buffer to keep the hot path cheap.
class SecureRandom final : public Random {
 public:
  void fill(void* out, std::size_t n) override;
  static SecureRandom& instance();
};

// Deterministic generator for tests (splitmix64).
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(std::uint64_t seed) : s_(seed) {}
  void fill(void* out, std::size_t n) override;

 private:
  std::uint64_t s_;
};

}  // namespace fs
