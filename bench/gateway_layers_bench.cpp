// Cost of each gateway layer per request, in process (the end-to-end figure of
// bench/gateway_layers.sh is too noisy on a shared 2-core host to resolve a microsecond).
// Each benchmark is one layer's work for one passing request, then the whole pipeline
// (Gateway::check_edge + check_bot + admit) through coroutines on an io_context.
#include <benchmark/benchmark.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "gateway/admission_queue.hpp"
#include "gateway/bot_scorer.hpp"
#include "gateway/client_ip.hpp"
#include "gateway/concurrency_limit.hpp"
#include "gateway/gateway.hpp"
#include "gateway/shared_token_buckets.hpp"
#include "no_redis.hpp"
#include "redis/redis_client.hpp"

namespace {

namespace asio = boost::asio;

// {"webgl":true,"canvas":true,"pointer_events":37,"ms_since_load":5400,"webdriver":false}
const std::string kHumanSignals =
    "eyJ3ZWJnbCI6dHJ1ZSwiY2FudmFzIjp0cnVlLCJwb2ludGVyX2V2ZW50cyI6MzcsIm1zX3NpbmNlX2xvYWQiOjU0MDAs"
    "IndlYmRyaXZlciI6ZmFsc2V9";
const std::string kUserAgent =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36";

std::vector<std::string> ips(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back("11." + std::to_string(i / 62500 % 250 + 1) + "." +
                  std::to_string(i / 250 % 250 + 1) + "." + std::to_string(i % 250 + 1));
  return out;
}

void BM_ClientIp(benchmark::State& state) {
  auto resolver = *fs::gateway::ClientIpResolver::from_strings({"127.0.0.0/8"});
  for (auto _ : state) benchmark::DoNotOptimize(resolver.resolve("127.0.0.1", "11.2.3.4"));
}
BENCHMARK(BM_ClientIp);

void BM_IpBucket(benchmark::State& state) {
  fs::gateway::SharedTokenBuckets buckets({10, 10}, 1'000'000);
  auto keys = ips(100'000);
  std::int64_t now = 0;
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(buckets.try_take(keys[i++ % keys.size()], now));
    now += 10'000;  // 100k req/s over 100k IPs: 1 req/s each, all pass
  }
}
BENCHMARK(BM_IpBucket);

void BM_BotScore(benchmark::State& state) {
  fs::ManualClock clock;
  fs::gateway::BotScorer scorer(clock);
  auto keys = ips(100'000);
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& ip = keys[i++ % keys.size()];
    fs::gateway::BotRequest r;
    r.ip = ip;
    r.user_id = ip;
    r.user_agent = kUserAgent;
    r.client_signals = kHumanSignals;
    benchmark::DoNotOptimize(scorer.score(r));
    clock.advance(std::chrono::microseconds{10});
  }
}
BENCHMARK(BM_BotScore);

void BM_AdmissionQueuePassThrough(benchmark::State& state) {
  fs::gateway::AdmissionQueueConfig c;
  c.drain_per_second = 1e9;
  fs::gateway::AdmissionQueue q(c, 0);
  std::int64_t now = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(q.enqueue(now));
    now += 1000;
  }
}
BENCHMARK(BM_AdmissionQueuePassThrough);

void BM_AdmissionQueueQueuedAndReleased(benchmark::State& state) {
  fs::gateway::AdmissionQueueConfig c;
  c.drain_per_second = 10'000;
  c.max_length = 1'000'000;
  fs::gateway::AdmissionQueue q(c, 0);
  std::vector<fs::gateway::AdmissionQueue::Released> rel, exp;
  std::int64_t now = 0;
  for (auto _ : state) {
    q.enqueue(now, 1);
    now += 100'000;  // 10k/s arrivals at a 10k/s drain
    rel.clear();
    benchmark::DoNotOptimize(q.advance(now, rel, exp));
  }
}
BENCHMARK(BM_AdmissionQueueQueuedAndReleased);

void BM_ConcurrencyLimit(benchmark::State& state) {
  fs::gateway::ConcurrencyLimit limit(10'000);
  for (auto _ : state) {
    auto p = limit.try_acquire();
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_ConcurrencyLimit);

using fs::bench::NoRedis;

asio::awaitable<void> one_request(fs::gateway::Gateway& g, const std::string& ip, bool bot,
                                  bool admit) {
  fs::gateway::ShopperContext ctx;
  ctx.ip = ip;
  ctx.user_id = ip;
  ctx.user_agent = kUserAgent;
  ctx.client_signals = kHumanSignals;
  auto edge = co_await g.check_edge(0, ctx);
  benchmark::DoNotOptimize(edge);
  if (bot) {
    auto b = co_await g.check_bot(0, ctx);
    benchmark::DoNotOptimize(b);
  }
  if (admit) {
    auto a = co_await g.admit(0, nullptr);
    benchmark::DoNotOptimize(a);
  }
}

// range(0): 0 = edge only, 1 = edge + bot, 2 = every layer.
void BM_GatewayPipeline(benchmark::State& state) {
  const int level = static_cast<int>(state.range(0));
  fs::gateway::GatewayConfig c;
  c.ip_limit = c.user_limit = true;
  c.bot_detection = level >= 1;
  c.queue = c.concurrency_limit = level >= 2;
  c.queue_config.drain_per_second = 1e9;
  asio::io_context io(1);
  fs::gateway::Gateway g(c, fs::SystemClock::instance(), nullptr, 1);
  NoRedis redis;
  g.add_worker(io.get_executor(), redis);
  auto keys = ips(100'000);
  std::size_t i = 0;
  for (auto _ : state) {
    asio::co_spawn(io, one_request(g, keys[i++ % keys.size()], level >= 1, level >= 2),
                   asio::detached);
    io.poll();
  }
}
BENCHMARK(BM_GatewayPipeline)->Arg(0)->Arg(1)->Arg(2);

// The same coroutine round trip without any layer: the baseline to subtract.
asio::awaitable<void> nothing() { co_return; }
void BM_CoroutineBaseline(benchmark::State& state) {
  asio::io_context io(1);
  for (auto _ : state) {
    asio::co_spawn(io, nothing(), asio::detached);
    io.poll();
  }
}
BENCHMARK(BM_CoroutineBaseline);

}  // namespace

BENCHMARK_MAIN();
