#include "crowd/latency_summary.hpp"

#include <algorithm>
#include <cassert>

namespace fs::crowd {

std::uint32_t percentile_per_mille(const std::vector<std::uint32_t>& sorted, unsigned per_mille) {
  assert(!sorted.empty() && per_mille <= 1000);
  const std::size_t n = sorted.size();
  // rank = ceil(per_mille/1000 * n), in integers so that p99.9 of 1000 samples is exactly the
  // 999th.
  std::size_t rank = (static_cast<std::size_t>(per_mille) * n + 999) / 1000;
  rank = std::clamp<std::size_t>(rank, 1, n);
  return sorted[rank - 1];
}

LatencySummary summarize_latencies(std::vector<std::uint32_t>& samples) {
  LatencySummary s;
  s.count = samples.size();
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.min = samples.front();
  s.max = samples.back();
  s.p50 = percentile_per_mille(samples, 500);
  s.p90 = percentile_per_mille(samples, 900);
  s.p99 = percentile_per_mille(samples, 990);
  s.p999 = percentile_per_mille(samples, 999);
  long double sum = 0;
  for (auto v : samples) sum += v;
  s.mean = static_cast<double>(sum / static_cast<long double>(samples.size()));
  return s;
}

}  // namespace fs::crowd
