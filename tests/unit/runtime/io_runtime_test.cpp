#include "runtime/io_runtime.hpp"

#include <gtest/gtest.h>
#include <pthread.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <string>

namespace fs {
namespace {

std::string name_of_thread_running(boost::asio::io_context& ctx) {
  std::promise<std::string> name;
  boost::asio::post(ctx, [&name] {
    std::array<char, 16> buf{};
    pthread_getname_np(pthread_self(), buf.data(), buf.size());
    name.set_value(buf.data());
  });
  return name.get_future().get();
}

// Each io_context runs on a thread of its own, named after the runtime and its index.
TEST(IoRuntime, NamesEachThreadAfterTheRuntimeAndItsIndex) {
  IoRuntime rt(2, "fs-test");
  rt.start();
  EXPECT_EQ(name_of_thread_running(rt.context(0)), "fs-test-0");
  EXPECT_EQ(name_of_thread_running(rt.context(1)), "fs-test-1");
  rt.stop();
}

// Linux keeps 15 characters of a thread's name: the index is cut rather than the call failing.
TEST(IoRuntime, CutsALongNameToTheKernelsLimit) {
  IoRuntime rt(1, "fs-a-very-long-runtime-name");
  rt.start();
  EXPECT_EQ(name_of_thread_running(rt.context(0)), "fs-a-very-long-");
  rt.stop();
}

}  // namespace
}  // namespace fs
