// Regression driver for the fuzz targets when they are not built with libFuzzer (the normal
// gcc builds that ctest runs, also under ASan+UBSan): every file of the target's seed corpus,
// every prefix of it, then FLASHSALE_FUZZ_RUNS (default 20,000) inputs mutated from the seeds
// by a deterministic generator (bit flips, interesting bytes, inserts, deletes, repeats,
// splices, dictionary tokens). Same seed, same inputs: a failure reproduces. The input that
// broke a property is written to fuzz-crash-<target>.bin in the working directory.
// Usage: fuzz_<target> [corpus dir] (default: the source tree's tests/fuzz/corpus/<target>)
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "fuzz_check.hpp"

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Tokens that steer mutations into the formats the targets parse (JSON, HTTP-ish text, RESP,
// form encoding, base64, JWT).
const char* const kDictionary[] = {"{",
                                   "}",
                                   "[",
                                   "]",
                                   ":",
                                   ",",
                                   "\"",
                                   "\\u0000",
                                   "\\\"",
                                   "null",
                                   "true",
                                   "false",
                                   "-1",
                                   "0",
                                   "1e309",
                                   "9223372036854775808",
                                   "-9223372036854775809",
                                   "1.5",
                                   "\r\n",
                                   "*",
                                   "$",
                                   "+",
                                   "-",
                                   ":",
                                   "%",
                                   "%00",
                                   "=",
                                   "&",
                                   ".",
                                   "eyJ",
                                   "==",
                                   "\xff",
                                   "\x00",
                                   "$-1\r\n",
                                   "*-1\r\n",
                                   "*2\r\n",
                                   "$99999999999\r\n",
                                   "_",
                                   "/",
                                   "::",
                                   "[::1]"};

class Mutator {
 public:
  explicit Mutator(std::uint64_t seed) : rng_(seed) {}

  Bytes mutate(const std::vector<Bytes>& seeds) {
    Bytes b = seeds[pick(seeds.size())];
    const std::size_t rounds = 1 + pick(4);
    for (std::size_t i = 0; i < rounds; ++i) step(b, seeds);
    if (b.size() > 4096) b.resize(4096);
    return b;
  }

 private:
  std::size_t pick(std::size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }

  void step(Bytes& b, const std::vector<Bytes>& seeds) {
    static const std::uint8_t kInteresting[] = {0,   1,    0x7f, 0x80, 0xff, '"', '\\', '{', '}',
                                                '[', ']',  ',',  ':',  '.',  '-', 'e',  '0', '9',
                                                ' ', '\r', '\n', '%',  '=',  '&', '$',  '*', '/'};
    switch (pick(8)) {
      case 0:  // flip a bit
        if (!b.empty()) b[pick(b.size())] ^= static_cast<std::uint8_t>(1u << pick(8));
        break;
      case 1:  // an interesting byte in place
        if (!b.empty()) b[pick(b.size())] = kInteresting[pick(sizeof kInteresting)];
        break;
      case 2:  // insert an interesting byte
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(pick(b.size() + 1)),
                 kInteresting[pick(sizeof kInteresting)]);
        break;
      case 3: {  // delete a range
        if (b.empty()) break;
        const std::size_t at = pick(b.size());
        const std::size_t n = 1 + pick(std::min<std::size_t>(16, b.size() - at));
        b.erase(b.begin() + static_cast<std::ptrdiff_t>(at),
                b.begin() + static_cast<std::ptrdiff_t>(at + n));
        break;
      }
      case 4: {  // repeat a range (deep nesting, long fields)
        if (b.empty()) break;
        const std::size_t at = pick(b.size());
        const std::size_t n = 1 + pick(std::min<std::size_t>(8, b.size() - at));
        const Bytes piece(b.begin() + static_cast<std::ptrdiff_t>(at),
                          b.begin() + static_cast<std::ptrdiff_t>(at + n));
        const std::size_t times = 1 + pick(64);
        for (std::size_t t = 0; t < times; ++t)
          b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), piece.begin(), piece.end());
        break;
      }
      case 5: {  // splice: our head, another seed's tail
        const Bytes& other = seeds[pick(seeds.size())];
        b.resize(pick(b.size() + 1));
        b.insert(b.end(), other.begin() + static_cast<std::ptrdiff_t>(pick(other.size() + 1)),
                 other.end());
        break;
      }
      case 6: {  // dictionary token
        const std::string_view t = kDictionary[pick(std::size(kDictionary))];
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(pick(b.size() + 1)), t.begin(), t.end());
        break;
      }
      default:  // truncate
        b.resize(pick(b.size() + 1));
        break;
    }
  }

  std::mt19937_64 rng_;
};

const Bytes* g_current = nullptr;
std::string g_target;

void save_current(int) {
  if (g_current == nullptr) return;
  const std::string name = "fuzz-crash-" + g_target + ".bin";
  if (std::FILE* f = std::fopen(name.c_str(), "wb")) {
    std::fwrite(g_current->data(), 1, g_current->size(), f);
    std::fclose(f);
    std::fprintf(stderr, "the failing input (%zu bytes) is in %s\n", g_current->size(),
                 name.c_str());
  }
}

int run(const Bytes& input) {
  g_current = &input;
  const int rc = LLVMFuzzerTestOneInput(input.data(), input.size());
  g_current = nullptr;
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  g_target = std::filesystem::path(argv[0]).filename().string();
  if (g_target.starts_with("fuzz_")) g_target = g_target.substr(5);
  const std::filesystem::path corpus =
      argc > 1 ? std::filesystem::path(argv[1])
               : std::filesystem::path(FLASHSALE_SOURCE_DIR) / "tests/fuzz/corpus" / g_target;
  std::vector<Bytes> seeds;
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(corpus)) {
    for (const auto& e : std::filesystem::directory_iterator(corpus))
      if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());  // directory order varies; inputs must not
  for (const auto& f : files) seeds.push_back(read_file(f));
  if (seeds.empty()) {
    std::fprintf(stderr, "no seed corpus in %s\n", corpus.c_str());
    return 1;
  }
  std::signal(SIGABRT, save_current);
  std::size_t executed = 0;
  for (const auto& s : seeds) {
    for (std::size_t n = 0; n <= s.size(); ++n) {  // every prefix: truncated input
      run(Bytes(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n)));
      ++executed;
    }
  }
  long runs = 20000;
  if (const char* env = std::getenv("FLASHSALE_FUZZ_RUNS")) runs = std::strtol(env, nullptr, 10);
  std::uint64_t seed = 0xcbf29ce484222325ULL;  // FNV-1a of the target name: stable everywhere
  for (unsigned char c : g_target) seed = (seed ^ c) * 0x100000001b3ULL;
  Mutator mutator(seed);
  for (long i = 0; i < runs; ++i) {
    run(mutator.mutate(seeds));
    ++executed;
  }
  std::printf("%s: %zu seeds, %zu inputs, every property held\n", g_target.c_str(), seeds.size(),
              executed);
  return 0;
}
