// The bot scorer runs on every "Buy Now" click; it must cost well under 10 us.
#include <benchmark/benchmark.h>

#include <string>

#include "common/clock.hpp"
#include "gateway/bot_scorer.hpp"

namespace {

// {"webgl":true,"canvas":true,"pointer_events":37,"ms_since_load":5400,"webdriver":false}
const std::string kHumanSignals =
    "eyJ3ZWJnbCI6dHJ1ZSwiY2FudmFzIjp0cnVlLCJwb2ludGVyX2V2ZW50cyI6MzcsIm1zX3NpbmNlX2xvYWQiOjU0MDAs"
    "IndlYmRyaXZlciI6ZmFsc2V9";

void BM_BotScoreBrowser(benchmark::State& state) {
  fs::ManualClock clock;
  fs::gateway::BotScorer scorer(clock);
  std::int64_t i = 0;
  std::string ip = "198.51.100.0";
  for (auto _ : state) {
    ip.back() = static_cast<char>('0' + (i++ % 10));
    fs::gateway::BotRequest request{
        .ip = ip,
        .user_id = "user-12345",
        .user_agent =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/120.0.0.0 Safari/537.36",
        .client_signals = kHumanSignals,
        .account_created_unix = 1'600'000'000};
    benchmark::DoNotOptimize(scorer.score(request));
    clock.advance(std::chrono::microseconds{10});
  }
}
BENCHMARK(BM_BotScoreBrowser);

void BM_BotScoreApiClientManyIps(benchmark::State& state) {
  fs::ManualClock clock;
  fs::gateway::BotScorer scorer(clock);
  std::uint32_t i = 0;
  for (auto _ : state) {
    const std::string ip = "10." + std::to_string((i >> 16) & 255) + "." +
                           std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255);
    ++i;
    fs::gateway::BotRequest request{.ip = ip, .user_id = ip, .user_agent = "python-requests/2.31"};
    benchmark::DoNotOptimize(scorer.score(request));
    clock.advance(std::chrono::microseconds{10});
  }
}
BENCHMARK(BM_BotScoreApiClientManyIps);

}  // namespace

BENCHMARK_MAIN();
