#pragma once
// Shared by the fuzz targets (tests/fuzz/*_fuzz.cpp). Each target defines the libFuzzer entry
// point LLVMFuzzerTestOneInput and states properties with FUZZ_CHECK: a violated property
// aborts, which libFuzzer (scripts/fuzz.sh) and the regression driver (fuzz_driver.cpp, run
// by ctest) both report as a failure with the input that caused it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(cond)                                                                        \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      std::fprintf(stderr, "fuzz property violated at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                             \
    }                                                                                           \
  } while (0)

namespace fs::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// api.md's rule for user and product ids (1-64 characters of [A-Za-z0-9_.-]), written here
// apart from domain/ on purpose: it is the oracle the parsers are checked against.
inline bool api_identifier(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace fs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
