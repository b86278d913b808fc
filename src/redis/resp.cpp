#include "redis/resp.hpp"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <array>
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

Reply convert(const redisReply& r) {
  Reply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::string;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::status;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::error;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::integer;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::array;
      out.elements.reserve(r.elements);
      for (std::size_t i = 0; i < r.elements; ++i) out.elements.push_back(convert(*r.element[i]));
      break;
    case REDIS_REPLY_NIL:
    default:
      out.type = Reply::Type::nil;
      break;
  }
  return out;
}

}  // namespace

Result<Reply> reply_from_hiredis(const redisReply& reply) {
  if (reply.type == REDIS_REPLY_ERROR) {
    return Error{Errc::backend_error, std::string(reply.str, reply.len)};
  }
  return convert(reply);
}

namespace {

// hiredis 0.14 allocates an array reply's element table as soon as it reads "*<n>", before any
// element has arrived: a corrupted or hostile "*322222222" takes 2.5 GB at once (found by
// tests/fuzz/resp_fuzz.cpp). Replies we ask for stay far below this bound (the largest is a
// sale's holds hash, two elements per active reservation); a larger header breaks the stream
// ("Out of memory" from hiredis) and the client reconnects, instead of the process dying.
constexpr int kMaxArrayElements = 1 << 24;

void* (*g_hiredis_create_array)(const redisReadTask*, int) = nullptr;

void* bounded_create_array(const redisReadTask* task, int elements) {
  if (elements > kMaxArrayElements) return nullptr;
  return g_hiredis_create_array(task, elements);
}

// hiredis' own reply functions (its table is not exported: read from a probe reader) with the
// array bound in front of createArray.
redisReplyObjectFunctions* bounded_reply_functions() {
  static redisReplyObjectFunctions functions = [] {
    redisReader* probe = redisReaderCreate();
    if (probe == nullptr) throw std::bad_alloc();
    redisReplyObjectFunctions f = *probe->fn;
    redisReaderFree(probe);
    g_hiredis_create_array = f.createArray;
    f.createArray = bounded_create_array;
    return f;
  }();
  return &functions;
}

}  // namespace

ReplyReader::ReplyReader() : reader_(redisReaderCreateWithFunctions(bounded_reply_functions())) {
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
  auto* reply = static_cast<redisReply*>(raw);
  Result<Reply> result = reply_from_hiredis(*reply);
  freeReplyObject(reply);
  return result;
}

}  // namespace fs::redis
