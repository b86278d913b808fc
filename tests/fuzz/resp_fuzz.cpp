// The Redis reply reader (redis/resp.cpp over hiredis' reader) on a hostile byte stream: what a
// broken or malicious server, or a corrupted connection, could send. Properties: no crash or
// unbounded growth; the replies do not depend on how the stream is cut into reads (the input
// fed whole and fed in pieces whose sizes the input itself picks give the same replies and the
// same failure); once failed, the reader stays failed.
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "redis/resp.hpp"

namespace {

struct Outcome {
  std::vector<std::string> replies;  // a rendering of each reply, for comparison
  bool failed = false;
};

void render(const fs::redis::Reply& r, std::string& out, int depth) {
  FUZZ_CHECK(depth < 64);
  out += std::to_string(static_cast<int>(r.type));
  out += ':';
  switch (r.type) {
    case fs::redis::Reply::Type::integer:
      out += std::to_string(r.integer);
      break;
    case fs::redis::Reply::Type::array:
      out += '[';
      for (const auto& e : r.elements) render(e, out, depth + 1), out += ',';
      out += ']';
      break;
    default:
      out += std::to_string(r.str.size()) + '/' + r.str;
  }
}

void drain(fs::redis::ReplyReader& reader, Outcome& o) {
  while (auto reply = reader.next()) {
    if (*reply) {
      std::string s;
      render(**reply, s, 0);
      o.replies.push_back(std::move(s));
    } else {
      o.replies.push_back("E:" + reply->error().message);
    }
  }
  o.failed = o.failed || reader.failed();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t step = 1 + data[0] % 7;
  const std::string_view stream = fs::fuzz::as_text(data + 1, size - 1);

  Outcome whole;
  {
    fs::redis::ReplyReader reader;
    if (!reader.feed(stream.data(), stream.size())) whole.failed = true;
    drain(reader, whole);
  }
  Outcome pieces;
  {
    fs::redis::ReplyReader reader;
    for (std::size_t at = 0; at < stream.size() && !pieces.failed; at += step) {
      const std::string_view piece = stream.substr(at, step);
      if (!reader.feed(piece.data(), piece.size())) pieces.failed = true;
      drain(reader, pieces);
    }
    if (pieces.failed) {
      // A broken stream stays broken: no reply comes out of it afterwards.
      FUZZ_CHECK(!reader.feed("+OK\r\n", 5) || !reader.next().has_value());
    }
  }
  FUZZ_CHECK(whole.failed == pieces.failed);
  FUZZ_CHECK(whole.replies == pieces.replies);
  return 0;
}
