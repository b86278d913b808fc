#pragma once
// Internal to fs_stack: how the launchers decide that a server they started is ready, and how
// they explain a server that is not.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "common/result.hpp"
#include "stack/local_servers.hpp"

namespace fs::stack::detail {

// Sends inline PING and INFO server to 127.0.0.1:port; true when the server answers "+PONG"
// (not -LOADING) and is process `pid` (not some other server that holds the port).
bool redis_ready(std::uint16_t port, pid_t pid, std::chrono::milliseconds timeout);

// The last `max_bytes` of a log file, for error messages.
std::string log_tail(const std::filesystem::path& file, std::size_t max_bytes = 4000);

// Polls `ready` every 20 ms until it returns true, the child exits or `timeout` passes.
// Errors carry `what` and the tail of `log`.
Status wait_until_ready(ChildProcess& child, const std::function<bool()>& ready,
                        std::chrono::milliseconds timeout, const std::string& what,
                        const std::filesystem::path& log);

// Polls until nothing accepts connections on 127.0.0.1:port (a killed server's port).
bool wait_until_port_closed(std::uint16_t port, std::chrono::milliseconds timeout);

}  // namespace fs::stack::detail
