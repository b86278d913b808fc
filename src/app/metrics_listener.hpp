#pragma once
// A small HTTP listener for worker processes (`flashsale worker --metrics-port`): GET /metrics
// (the Prometheus text of the process's registry) and GET /healthz (200 while running). It has
// its own I/O thread, so a busy worker thread never delays a scrape.
#include <cstdint>
#include <memory>
#include <string>

namespace fs::metrics {
class MetricsRegistry;
}

namespace fs::app {

class MetricsListener {
 public:
  // `registry` must outlive the listener. port 0: a free port (see port()).
  MetricsListener(metrics::MetricsRegistry& registry, std::string address, std::uint16_t port,
                  std::string roles);
  ~MetricsListener();
  MetricsListener(const MetricsListener&) = delete;
  MetricsListener& operator=(const MetricsListener&) = delete;

  void start();  // throws std::runtime_error when the port cannot be bound
  std::uint16_t port() const;
  void stop();  // idempotent

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fs::app
