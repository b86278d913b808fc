#include "redis/resp.hpp"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <algorithm>
#include <array>
#include <memory>
#include <new>

namespace fs::redis {

bool append_command(std::string& out, std::span<const std::string_view> args) {
  // Most hot-path commands (GET/SET/INCR/EVALSHA with a few keys) fit the stack arrays.
  constexpr std::size_t kInline = 16;
  std::array<const char*, kInline> argv_inline;
  std::array<std::size_t, kInline> len_inline;
  std::vector<const char*> argv_heap;
  std::vector<std::size_t> len_heap;
  const char** argv = argv_inline.data();
  std::size_t* lens = len_inline.data();
  if (args.size() > kInline) {
    argv_heap.resize(args.size());
    len_heap.resize(args.size());
    argv = argv_heap.data();
    lens = len_heap.data();
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    argv[i] = args[i].data();
    lens[i] = args[i].size();
  }
  // The sds variant formats lengths with hiredis' own sdscatfmt; redisFormatCommandArgv uses
  // sprintf, which showed up as ~8% of the client's CPU time under load.
  sds cmd = nullptr;
  int len = redisFormatSdsCommandArgv(&cmd, static_cast<int>(args.size()), argv, lens);
  if (len < 0 || cmd == nullptr) return false;
  out.append(cmd, static_cast<std::size_t>(len));
  redisFreeSdsCommand(cmd);
  return true;
}

bool append_command(std::string& out, const std::vector<std::string>& args) {
  constexpr std::size_t kInline = 16;
  if (args.size() <= kInline) {
    std::array<std::string_view, kInline> views;
    for (std::size_t i = 0; i < args.size(); ++i) views[i] = args[i];
    return append_command(out, std::span<const std::string_view>(views.data(), args.size()));
  }
  std::vector<std::string_view> views(args.begin(), args.end());
  return append_command(out, std::span<const std::string_view>(views));
}

namespace {

// hiredis' reader builds each reply through these functions: straight into fs::redis::Reply,
// with no redisReply tree to convert and free afterwards (that was four allocations and a copy
// of every string per EVALSHA reply). The root is allocated here and owned by ReplyReader::next
// (or freed by hiredis on a broken stream); an element is appended to its parent's elements.
// Only the array being filled grows: its ancestors, which hiredis' task stack points into, are
// complete up to it, so their addresses hold. Nothing may throw through hiredis' C frames.
//
// hiredis 0.14 would allocate an array's whole element table as soon as it reads "*<n>": a
// corrupted or hostile "*322222222" took 2.5 GB at once (found by tests/fuzz/resp_fuzz.cpp).
// Here the table grows with the elements that actually arrive, and a header beyond this bound
// (replies we ask for stay far below it: the largest is a sale's holds hash, two elements per
// active reservation) breaks the stream ("Out of memory" from hiredis) and the client reconnects.
constexpr int kMaxArrayElements = 1 << 24;
constexpr std::size_t kReserveUpFront = 1024;

Reply* place(const redisReadTask* task) noexcept {
  try {
    if (task->parent == nullptr) return new Reply();
    auto* parent = static_cast<Reply*>(task->parent->obj);
    if (task->idx < 0 || static_cast<std::size_t>(task->idx) != parent->elements.size())
      return nullptr;  // hiredis fills elements in order; anything else is not a reply we built
    return &parent->elements.emplace_back();
  } catch (...) {
    return nullptr;
  }
}

void* create_string(const redisReadTask* task, char* str, size_t len) {
  Reply* r = place(task);
  if (r == nullptr) return nullptr;
  r->type = task->type == REDIS_REPLY_ERROR    ? Reply::Type::error
            : task->type == REDIS_REPLY_STATUS ? Reply::Type::status
                                               : Reply::Type::string;
  try {
    r->str.assign(str, len);
  } catch (...) {
    if (task->parent == nullptr) delete r;
    return nullptr;
  }
  return r;
}

void* create_array(const redisReadTask* task, int elements) {
  if (elements > kMaxArrayElements) return nullptr;
  Reply* r = place(task);
  if (r == nullptr) return nullptr;
  r->type = Reply::Type::array;
  try {
    r->elements.reserve(std::min(static_cast<std::size_t>(std::max(elements, 0)), kReserveUpFront));
  } catch (...) {
    if (task->parent == nullptr) delete r;
    return nullptr;
  }
  return r;
}

void* create_integer(const redisReadTask* task, long long value) {
  Reply* r = place(task);
  if (r == nullptr) return nullptr;
  r->type = Reply::Type::integer;
  r->integer = value;
  return r;
}

void* create_nil(const redisReadTask* task) {
  Reply* r = place(task);
  if (r != nullptr) r->type = Reply::Type::nil;
  return r;
}

// hiredis frees only roots (a reply it abandons on a broken stream); elements belong to them.
void free_object(void* root) { delete static_cast<Reply*>(root); }

redisReplyObjectFunctions g_reply_functions{create_string, create_array, create_integer, create_nil,
                                            free_object};

}  // namespace

ReplyReader::ReplyReader() : reader_(redisReaderCreateWithFunctions(&g_reply_functions)) {
  if (reader_ == nullptr) throw std::bad_alloc();
}

ReplyReader::~ReplyReader() { redisReaderFree(reader_); }

bool ReplyReader::feed(const char* data, std::size_t size) {
  if (failed_) return false;
  if (redisReaderFeed(reader_, data, size) != REDIS_OK) {
    failed_ = true;
    failure_ = reader_->errstr;
    return false;
  }
  return true;
}

std::optional<Result<Reply>> ReplyReader::next() {
  if (failed_) return std::nullopt;
  void* raw = nullptr;
  if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
    failed_ = true;
    failure_ = reader_->errstr;
    return std::nullopt;
  }
  if (raw == nullptr) return std::nullopt;
  const std::unique_ptr<Reply> reply(static_cast<Reply*>(raw));
  // A top-level error reply becomes Errc::backend_error carrying Redis' text; errors nested
  // inside arrays (EXEC, Lua tables) stay in the tree as Reply::Type::error.
  if (reply->type == Reply::Type::error)
    return Result<Reply>(Error{Errc::backend_error, std::move(reply->str)});
  return Result<Reply>(std::move(*reply));
}

}  // namespace fs::redis
