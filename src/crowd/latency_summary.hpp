#pragma once
// Exact latency percentiles over every recorded sample (a load test of ~1e5 requests keeps them
// all: 4 bytes each), so the tail the report shows is the tail that happened, not an estimate.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fs::crowd {

struct LatencySummary {
  std::size_t count = 0;
  // Microseconds; all zero when count == 0.
  std::uint32_t min = 0;
  std::uint32_t p50 = 0;
  std::uint32_t p90 = 0;
  std::uint32_t p99 = 0;
  std::uint32_t p999 = 0;
  std::uint32_t max = 0;
  double mean = 0;
};

// Nearest-rank percentile of sorted samples: the smallest sample with at least `per_mille`/1000
// of all samples at or below it. `sorted` must be non-empty and ascending.
std::uint32_t percentile_per_mille(const std::vector<std::uint32_t>& sorted, unsigned per_mille);

// Sorts `samples` in place and summarises them.
LatencySummary summarize_latencies(std::vector<std::uint32_t>& samples);

}  // namespace fs::crowd
