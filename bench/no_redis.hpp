#pragma once
// A Redis client for benchmarks of code that must not reach Redis: every call fails at once.
#include <boost/asio/awaitable.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "redis/redis_client.hpp"

namespace fs::bench {

class NoRedis final : public redis::Client {
 public:
  boost::asio::awaitable<Result<redis::Reply>> command(std::vector<std::string>) override {
    co_return Error{Errc::unavailable, "no redis in this benchmark"};
  }
  using redis::Client::eval;
  boost::asio::awaitable<Result<redis::Reply>> eval(const redis::Script&,
                                                    std::span<const std::string_view>,
                                                    std::span<const std::string_view>) override {
    co_return Error{Errc::unavailable, "no redis in this benchmark"};
  }
  // Completes inline, unlike the real client (which posts): the benchmarks that use this stub
  // never reach Redis on a path that batches, and a caller must tolerate either.
  void eval(const redis::Script&, std::span<const std::string_view>,
            std::span<const std::string_view>, redis::ReplyHandler done) override {
    std::move(done)(Error{Errc::unavailable, "no redis in this benchmark"});
  }
  bool connected() const override { return false; }
  void close() override {}
};

}  // namespace fs::bench
