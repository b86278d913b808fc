#pragma once
#include <chrono>
#include <cstdint>

#include "redis/redis_client.hpp"

namespace fs::test {

// Short timeouts and backoffs so fault tests finish quickly.
inline redis::ClientConfig client_config(std::uint16_t port) {
  redis::ClientConfig config;
  config.port = port;
  config.connect_timeout = std::chrono::milliseconds{1000};
  config.command_timeout = std::chrono::milliseconds{5000};
  config.reconnect_backoff_min = std::chrono::milliseconds{20};
  config.reconnect_backoff_max = std::chrono::milliseconds{200};
  return config;
}

}  // namespace fs::test
