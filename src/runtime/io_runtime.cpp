#include "runtime/io_runtime.hpp"

#include <pthread.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace fs {

struct IoRuntime::Guards {
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> g;
};

IoRuntime::IoRuntime(std::size_t threads, std::string name)
    : guards_(std::make_unique<Guards>()), name_(std::move(name)) {
  if (threads == 0) threads = 1;
  for (std::size_t i = 0; i < threads; ++i)
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
}

IoRuntime::~IoRuntime() { abort(); }

void IoRuntime::start() {
  for (std::size_t i = 0; i < contexts_.size(); ++i) {
    guards_->g.emplace_back(contexts_[i]->get_executor());
    std::string name = (name_ + "-" + std::to_string(i)).substr(0, 15);
    threads_.emplace_back([ctx = contexts_[i].get(), name = std::move(name)] {
      pthread_setname_np(pthread_self(), name.c_str());
      ctx->run();
    });
  }
}

void IoRuntime::stop() {
  guards_->g.clear();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void IoRuntime::abort() {
  guards_->g.clear();
  for (auto& c : contexts_) c->stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

}  // namespace fs
