#include "redis/sentinel.hpp"

#include <gtest/gtest.h>

#include "redis/redis_client.hpp"

namespace fs::redis {
namespace {

Reply str(std::string s) {
  Reply r;
  r.type = Reply::Type::string;
  r.str = std::move(s);
  return r;
}

Reply array(std::vector<Reply> e) {
  Reply r;
  r.type = Reply::Type::array;
  r.elements = std::move(e);
  return r;
}

TEST(SentinelAddress, ParsesHostPortAndBracketedIpv6) {
  auto a = parse_address("127.0.0.1:26379");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 26379);
  auto b = parse_address(" sentinel-2.local:5000 ");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "sentinel-2.local");
  EXPECT_EQ(b->port, 5000);
  auto c = parse_address("[::1]:26380");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 26380);
  EXPECT_EQ(c->to_string(), "[::1]:26380");
  EXPECT_EQ(a->to_string(), "127.0.0.1:26379");
}

TEST(SentinelAddress, RejectsMalformedAddresses) {
  for (const char* bad : {"", "localhost", ":6379", "h:", "h:0", "h:65536", "h:12x", "::1:6379",
                          "[::1]6379", "[::1"}) {
    auto r = parse_address(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.code(), Errc::invalid_request) << bad;
    }
  }
}

TEST(SentinelAddress, ParsesACommaSeparatedList) {
  auto l = parse_address_list("127.0.0.1:26379, 127.0.0.1:26380,127.0.0.1:26381,");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 3u);
  EXPECT_EQ((*l)[1], (Address{"127.0.0.1", 26380}));
  EXPECT_EQ((*l)[2].port, 26381);
  EXPECT_FALSE(parse_address_list("").ok());
  EXPECT_FALSE(parse_address_list(" , ").ok());
  EXPECT_FALSE(parse_address_list("127.0.0.1:1,nope").ok());
}

TEST(SentinelRotation, StartsWithTheLastSentinelThatAnswered) {
  SentinelRotation r(3);
  EXPECT_EQ(r.order(), (std::vector<std::size_t>{0, 1, 2}));
  r.answered(2);
  EXPECT_EQ(r.order(), (std::vector<std::size_t>{2, 0, 1}));
  r.failed(2);  // the preferred one died: the next one is asked first from now on
  EXPECT_EQ(r.order(), (std::vector<std::size_t>{0, 1, 2}));
  r.failed(1);  // not the preferred one: no change
  EXPECT_EQ(r.preferred(), 0u);
  r.answered(1);
  EXPECT_EQ(r.order(), (std::vector<std::size_t>{1, 2, 0}));
  EXPECT_TRUE(SentinelRotation(0).order().empty());
}

TEST(SentinelReplies, MasterAddressFromGetMasterAddrByName) {
  auto a = master_address_from_reply(array({str("127.0.0.1"), str("6380")}));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, (Address{"127.0.0.1", 6380}));
  auto unknown = master_address_from_reply(Reply{});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.code(), Errc::not_found);
  EXPECT_EQ(master_address_from_reply(array({str("h")})).code(), Errc::protocol_error);
  EXPECT_EQ(master_address_from_reply(array({str("h"), str("x")})).code(), Errc::protocol_error);
}

TEST(SentinelReplies, RoleAndNotMasterErrors) {
  Reply offset;
  offset.type = Reply::Type::integer;
  auto master = role_is_master(array({str("master"), offset, array({})}));
  ASSERT_TRUE(master.ok());
  EXPECT_TRUE(*master);
  auto replica = role_is_master(array({str("slave"), str("127.0.0.1"), offset}));
  ASSERT_TRUE(replica.ok());
  EXPECT_FALSE(*replica);
  EXPECT_FALSE(role_is_master(str("master")).ok());
  EXPECT_TRUE(means_not_master("READONLY You can't write against a read only replica."));
  EXPECT_TRUE(means_not_master("MASTERDOWN Link with MASTER is down"));
  EXPECT_FALSE(means_not_master("ERR unknown command"));
  EXPECT_FALSE(means_not_master("NOSCRIPT No matching script"));
}

}  // namespace
}  // namespace fs::redis
