#pragma once
// A blocking GET used at start-up only (`flashsale up` waits for /readyz before printing its URL).
#include <chrono>
#include <cstdint>
#include <string>

namespace fs::app {

// The HTTP status of GET `path` on 127.0.0.1:port, or 0 when there was no answer.
int http_get_status(std::uint16_t port, const std::string& path,
                    std::chrono::milliseconds timeout = std::chrono::milliseconds{1000});

// Polls until GET path answers 200 or the deadline passes.
bool wait_until_ready(std::uint16_t port, const std::string& path,
                      std::chrono::milliseconds deadline);

}  // namespace fs::app
