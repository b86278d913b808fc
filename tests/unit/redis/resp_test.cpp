#include "redis/resp.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace fs::redis {
namespace {

using namespace std::string_literals;

TEST(AppendCommand, FormatsBinarySafeArguments) {
  std::string out = "prefix";
  ASSERT_TRUE(append_command(out, {"SET", "k", "a\r\nb\0c"s}));
  EXPECT_EQ(out, "prefix*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\na\r\nb\0c\r\n"s);
}

TEST(AppendCommand, ManyArgumentsUseTheHeapPath) {
  std::vector<std::string> args{"RPUSH", "list"};
  for (int i = 0; i < 40; ++i) args.push_back(std::to_string(i));
  std::string out;
  ASSERT_TRUE(append_command(out, args));
  EXPECT_TRUE(out.starts_with("*42\r\n$5\r\nRPUSH\r\n"));
  EXPECT_TRUE(out.ends_with("$2\r\n39\r\n"));
}

TEST(AppendCommand, EmptyAndLongArguments) {
  std::string out;
  const std::string long_arg(1234, 'x');
  ASSERT_TRUE(append_command(out, {"SET", "", long_arg}));
  EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$0\r\n\r\n$1234\r\n" + long_arg + "\r\n");
}

Result<Reply> parse_one(const std::string& bytes) {
  ReplyReader reader;
  EXPECT_TRUE(reader.feed(bytes.data(), bytes.size()));
  auto reply = reader.next();
  EXPECT_TRUE(reply.has_value());
  EXPECT_FALSE(reader.next().has_value());
  if (!reply) return Errc::internal;
  return std::move(*reply);
}

TEST(ReplyReader, ConvertsScalars) {
  auto s = parse_one("$5\r\nhello\r\n");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->type, Reply::Type::string);
  EXPECT_EQ(s->str, "hello");

  auto st = parse_one("+OK\r\n");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->type, Reply::Type::status);
  EXPECT_EQ(st->str, "OK");

  auto i = parse_one(":-42\r\n");
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i->type, Reply::Type::integer);
  EXPECT_EQ(i->integer, -42);

  auto nil = parse_one("$-1\r\n");
  ASSERT_TRUE(nil.ok());
  EXPECT_TRUE(nil->is_nil());
}

TEST(ReplyReader, TopLevelErrorBecomesBackendError) {
  auto e = parse_one("-NOSCRIPT No matching script\r\n");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.code(), Errc::backend_error);
  EXPECT_EQ(e.error().message, "NOSCRIPT No matching script");
}

TEST(ReplyReader, NestedArraysKeepErrorsAndNils) {
  auto a = parse_one("*4\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n-ERR inner\r\n*0\r\n");
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->type, Reply::Type::array);
  ASSERT_EQ(a->elements.size(), 4u);
  EXPECT_EQ(a->elements[0].integer, 1);
  ASSERT_EQ(a->elements[1].elements.size(), 2u);
  EXPECT_EQ(a->elements[1].elements[0].str, "a");
  EXPECT_TRUE(a->elements[1].elements[1].is_nil());
  EXPECT_EQ(a->elements[2].type, Reply::Type::error);
  EXPECT_EQ(a->elements[2].str, "ERR inner");
  EXPECT_EQ(a->elements[3].type, Reply::Type::array);
  EXPECT_TRUE(a->elements[3].elements.empty());
}

// The reply is built in place as hiredis reads it: an array longer than what is reserved up
// front grows while its elements (here arrays themselves) are still being filled, in pieces.
TEST(ReplyReader, LongArraysOfArraysGrowWhileBeingFilled) {
  constexpr int kOuter = 3000;
  std::string stream = "*" + std::to_string(kOuter) + "\r\n";
  for (int i = 0; i < kOuter; ++i)
    stream += "*2\r\n$" + std::to_string(std::to_string(i).size()) + "\r\n" + std::to_string(i) +
              "\r\n:" + std::to_string(i * 7) + "\r\n";
  stream += "+after\r\n";
  ReplyReader reader;
  std::vector<Result<Reply>> replies;
  for (std::size_t at = 0; at < stream.size(); at += 5) {
    ASSERT_TRUE(reader.feed(stream.data() + at, std::min<std::size_t>(5, stream.size() - at)));
    while (auto r = reader.next()) replies.push_back(std::move(*r));
  }
  ASSERT_EQ(replies.size(), 2u);
  ASSERT_TRUE(replies[0].ok());
  ASSERT_EQ(replies[0]->elements.size(), static_cast<std::size_t>(kOuter));
  for (int i = 0; i < kOuter; ++i) {
    const auto& e = replies[0]->elements[static_cast<std::size_t>(i)];
    ASSERT_EQ(e.elements.size(), 2u) << i;
    EXPECT_EQ(e.elements[0].str, std::to_string(i));
    EXPECT_EQ(e.elements[1].integer, i * 7);
  }
  EXPECT_EQ(replies[1]->str, "after");
}

// A stream that breaks inside an array: the partial reply is dropped with the stream (ASan's
// leak check covers it), and nothing is returned.
TEST(ReplyReader, StreamBrokenInsideAnArrayDropsThePartialReply) {
  ReplyReader reader;
  const std::string broken = "*3\r\n:1\r\n*2\r\n$1\r\na\r\n?junk\r\n";
  reader.feed(broken.data(), broken.size());
  EXPECT_FALSE(reader.next().has_value());
  EXPECT_TRUE(reader.failed());
}

TEST(ReplyReader, ReassemblesRepliesSplitAcrossFeeds) {
  const std::string stream = ":1\r\n$11\r\nhello world\r\n+PONG\r\n";
  ReplyReader reader;
  std::vector<Result<Reply>> replies;
  for (char c : stream) {  // worst case: one byte per read
    ASSERT_TRUE(reader.feed(&c, 1));
    while (auto r = reader.next()) replies.push_back(std::move(*r));
  }
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0]->integer, 1);
  EXPECT_EQ(replies[1]->str, "hello world");
  EXPECT_EQ(replies[2]->str, "PONG");
}

TEST(ReplyReader, MalformedStreamFails) {
  ReplyReader reader;
  const std::string junk = "?what\r\n";
  ASSERT_TRUE(reader.feed(junk.data(), junk.size()));
  EXPECT_FALSE(reader.next().has_value());
  EXPECT_TRUE(reader.failed());
  EXPECT_FALSE(reader.failure().empty());
  EXPECT_FALSE(reader.feed("+OK\r\n", 5));
}

TEST(ReplyReader, HugeArrayHeaderBreaksTheStreamInsteadOfAllocating) {
  // hiredis would allocate the element table (here 2.5 GB) on reading the header alone.
  ReplyReader reader;
  const std::string huge = "*322222222\r\n:1\r\n";
  reader.feed(huge.data(), huge.size());
  EXPECT_FALSE(reader.next().has_value());
  EXPECT_TRUE(reader.failed());
  // Below the bound, arrays are read as before.
  auto ok = parse_one("*3\r\n:1\r\n:2\r\n:3\r\n");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->elements.size(), 3u);
}

}  // namespace
}  // namespace fs::redis
