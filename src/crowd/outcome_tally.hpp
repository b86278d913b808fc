#pragma once
// Counts of request outcomes by (HTTP status, api.md error code). A transport failure (no HTTP
// answer at all) is status 0 with the Errc name ("unavailable", "timeout") as its code.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fs::crowd {

struct Outcome {
  int status = 0;
  std::string code;  // empty for 2xx and for error bodies without a code
  std::uint64_t count = 0;
};

class OutcomeTally {
 public:
  void add(int status, std::string_view code, std::uint64_t n = 1);
  void merge(const OutcomeTally& other);

  std::uint64_t total() const;
  std::uint64_t count_status(int status) const;
  std::uint64_t count(int status, std::string_view code) const;
  // Sorted by status, then code: a stable order for reports and tests.
  std::vector<Outcome> sorted() const;

 private:
  // A run sees a handful of distinct outcomes, so a linear scan beats any map here.
  std::vector<Outcome> outcomes_;
};

// The `error.code` of an api.md error body, or empty when the body is not such an object.
std::string error_code_of(std::string_view body);

}  // namespace fs::crowd
