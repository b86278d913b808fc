#pragma once
// One io_context per core ("shard per core"): each thread runs its own io_context and owns its
// own backend connections, so the hot path needs no locks. A connection accepted on thread i is
// served on thread i and uses thread i's Redis/PostgreSQL clients (see Request::worker).
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace fs {

class IoRuntime {
 public:
  // `name` names the threads "<name>-<i>" (cut to the kernel's 15 characters), so that top -H,
  // /proc/<pid>/task/*/comm and perf tell the I/O threads from the event roles' and the rest.
  explicit IoRuntime(std::size_t threads, std::string name = "fs-io");
  ~IoRuntime();
  IoRuntime(const IoRuntime&) = delete;
  IoRuntime& operator=(const IoRuntime&) = delete;

  std::size_t size() const { return contexts_.size(); }
  boost::asio::io_context& context(std::size_t i) { return *contexts_[i]; }

  // Starts one thread per io_context (keeps them alive with work guards until stop()).
  void start();
  // Releases the work guards and joins the threads once their queues drain.
  void stop();
  // Stops the io_contexts at once (pending handlers are abandoned).
  void abort();

 private:
  struct Guards;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::unique_ptr<Guards> guards_;
  std::string name_;
  std::vector<std::thread> threads_;
};

}  // namespace fs
