// Memory per queued request inside the gateway: N coroutines parked in the admission queue
// through Gateway::admit (the path a reservation takes), each holding a typical reservation
// request (headers, body, a bearer token) as the HTTP handler would. Process RSS before and
// after, divided by N. No sockets: the container's open-file limit (20,000) cannot hold 100,000
// connections; bench/gateway_layers.sh measures the whole server (sockets, sessions, buffers)
// with as many connections as the limit allows.
// Usage: admission_memory_bench [N, default 100000]
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "gateway/gateway.hpp"
#include "no_redis.hpp"
#include "redis/redis_client.hpp"

namespace {

namespace asio = boost::asio;

using fs::bench::NoRedis;

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

struct TypicalRequest {  // what http::Request holds for a reservation, by size
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

TypicalRequest typical_request(std::size_t i) {
  TypicalRequest r;
  r.headers = {{"host", "127.0.0.1:8080"},
               {"authorization", "Bearer " + std::string(160, 'a') + std::to_string(i)},
               {"content-type", "application/json"},
               {"user-agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0"},
               {"x-forwarded-for", "11.0.0." + std::to_string(i % 250)},
               {"content-length", "41"}};
  r.body = R"({"product_id":"demo-phone","quantity":1})";
  return r;
}

asio::awaitable<void> queued_request(fs::gateway::Gateway& g, std::size_t i, std::size_t& done) {
  TypicalRequest req = typical_request(i);
  fs::gateway::DisconnectHook hook = [](std::function<void()>) {};
  auto admitted = co_await g.admit(0, &hook);
  (void)admitted;
  (void)req;
  ++done;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 100'000;
  asio::io_context io(1);
  fs::gateway::GatewayConfig config;
  config.queue = true;
  config.queue_config.drain_per_second = 0.001;  // nobody leaves while we measure
  config.queue_config.max_length = n + 1;
  config.queue_config.max_wait_ns = 3'600'000'000'000;
  fs::gateway::Gateway gateway(config, fs::SystemClock::instance(), nullptr, 1);
  NoRedis redis;
  gateway.add_worker(io.get_executor(), redis);

  std::size_t done = 0;
  // Warm-up: the allocator's first arenas and the queue's first blocks.
  for (std::size_t i = 0; i < 1000; ++i)
    asio::co_spawn(io, queued_request(gateway, i, done), asio::detached);
  io.poll();
  const long before = rss_kib();
  const std::size_t queued_before = gateway.queue_length();
  for (std::size_t i = 0; i < n; ++i)
    asio::co_spawn(io, queued_request(gateway, i, done), asio::detached);
  io.poll();
  const long after = rss_kib();
  const std::size_t queued = gateway.queue_length() - queued_before;
  std::printf(
      "admission queue: %zu requests queued (gauge %zu), RSS %ld KiB -> %ld KiB = %.0f bytes per "
      "queued request (queue slot, parked coroutine frames, a typical request's headers and "
      "body)\n",
      queued, gateway.queue_length(), before, after,
      static_cast<double>(after - before) * 1024.0 / static_cast<double>(queued ? queued : 1));
  return queued >= n ? 0 : 1;
}
