#pragma once
// RESP encoding and decoding for the Redis client, delegated to hiredis (its command formatter
// and its reply reader) so that no hand-written protocol code sits on the hot path.
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "redis/redis_client.hpp"

struct redisReader;

namespace fs::redis {

// Appends the RESP encoding of one command to `out`. Returns false only if hiredis fails to
// allocate, in which case `out` is unchanged.
bool append_command(std::string& out, std::span<const std::string_view> args);
bool append_command(std::string& out, const std::vector<std::string>& args);

// Incremental reply parser for one connection's byte stream.
class ReplyReader {
 public:
  ReplyReader();
  ~ReplyReader();
  ReplyReader(const ReplyReader&) = delete;
  ReplyReader& operator=(const ReplyReader&) = delete;

  // Returns false if the stream is already broken or hiredis cannot buffer the bytes.
  bool feed(const char* data, std::size_t size);

  // The next complete reply; std::nullopt when more bytes are needed or the stream is broken
  // (check failed() / failure()). A top-level error reply becomes Errc::backend_error carrying
  // Redis' text (e.g. "NOSCRIPT ..."); errors nested inside arrays (EXEC, Lua tables) stay in
  // the tree as Reply::Type::error.
  std::optional<Result<Reply>> next();

  bool failed() const { return failed_; }
  const std::string& failure() const { return failure_; }

 private:
  redisReader* reader_;
  bool failed_ = false;
  std::string failure_;
};

}  // namespace fs::redis
