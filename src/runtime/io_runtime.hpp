#pragma once
// One io_context per core ("shard per core"): each thread runs its own io_context and owns its
// own backend connections, so the hot path needs no locks. A connection accepted on thread i is
// served on thread i and uses thread i's Redis/PostgreSQL clients (see Request::worker).
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace fs {

class IoRuntime {
 public:
  explicit IoRuntime(std::size_t threads);
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
  std::vector<std::thread> threads_;
};

}  // namespace fs
