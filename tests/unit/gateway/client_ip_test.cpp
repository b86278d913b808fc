#include "gateway/client_ip.hpp"

#include <gtest/gtest.h>

namespace fs::gateway {
namespace {

ClientIpResolver resolver() {
  auto r =
      ClientIpResolver::from_strings({"10.0.0.0/8", "192.168.1.7", "fd00::/8", "2001:db8::/33"});
  EXPECT_TRUE(r.ok());
  return std::move(r).value();
}

TEST(IpAddress, ParsesBothFamiliesWithOrWithoutPorts) {
  EXPECT_EQ(IpAddress::parse("1.2.3.4")->to_string(), "1.2.3.4");
  EXPECT_EQ(IpAddress::parse(" 1.2.3.4:8080 ")->to_string(), "1.2.3.4");
  EXPECT_EQ(IpAddress::parse("2001:DB8::1")->to_string(), "2001:db8::1");
  EXPECT_EQ(IpAddress::parse("[2001:db8::1]:443")->to_string(), "2001:db8::1");
  EXPECT_EQ(IpAddress::parse("[::1]")->to_string(), "::1");
  EXPECT_EQ(IpAddress::parse("::ffff:9.8.7.6")->to_string(), "9.8.7.6");
  EXPECT_FALSE(IpAddress::parse("::ffff:9.8.7.6")->v6);
  for (auto bad : {"", "unknown", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4:99999",
                   "1.2.3.4:", "[::1", "[::1]x", "::g", "_hidden", "1.2.3.4 5.6.7.8"}) {
    EXPECT_FALSE(IpAddress::parse(bad).has_value()) << bad;
  }
}

TEST(Cidr, MatchesPrefixesOfBothFamilies) {
  auto v4 = Cidr::parse("10.1.0.0/16");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->contains(*IpAddress::parse("10.1.255.3")));
  EXPECT_FALSE(v4->contains(*IpAddress::parse("10.2.0.1")));
  EXPECT_FALSE(v4->contains(*IpAddress::parse("::ffff:10.2.0.1")));
  EXPECT_TRUE(v4->contains(*IpAddress::parse("::ffff:10.1.0.1")));
  EXPECT_FALSE(v4->contains(*IpAddress::parse("fd00::1")));

  auto odd = Cidr::parse("192.168.0.0/23");
  EXPECT_TRUE(odd->contains(*IpAddress::parse("192.168.1.200")));
  EXPECT_FALSE(odd->contains(*IpAddress::parse("192.168.2.1")));

  auto v6 = Cidr::parse("2001:db8::/33");
  EXPECT_TRUE(v6->contains(*IpAddress::parse("2001:db8:7fff::1")));
  EXPECT_FALSE(v6->contains(*IpAddress::parse("2001:db8:8000::1")));
  EXPECT_FALSE(v6->contains(*IpAddress::parse("10.0.0.1")));

  EXPECT_TRUE(Cidr::parse("0.0.0.0/0")->contains(*IpAddress::parse("8.8.8.8")));
  EXPECT_TRUE(Cidr::parse("::/0")->contains(*IpAddress::parse("2a00::1")));
  EXPECT_TRUE(Cidr::parse("1.2.3.4")->contains(*IpAddress::parse("1.2.3.4")));
  EXPECT_FALSE(Cidr::parse("1.2.3.4")->contains(*IpAddress::parse("1.2.3.5")));

  for (auto bad : {"10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "10.0.0.0/8x", "fd00::/129", "x/8"}) {
    EXPECT_FALSE(Cidr::parse(bad).has_value()) << bad;
  }
  EXPECT_FALSE(ClientIpResolver::from_strings({"10.0.0.0/8", "nope"}).ok());
}

TEST(ClientIpResolver, UntrustedPeerIsTheClientWhateverTheHeaderSays) {
  auto r = resolver();
  EXPECT_EQ(r.resolve("203.0.113.9", "1.1.1.1"), "203.0.113.9");
  EXPECT_EQ(r.resolve("203.0.113.9", ""), "203.0.113.9");
  EXPECT_EQ(r.resolve("2a00:1450::5", "1.1.1.1"), "2a00:1450::5");
}

TEST(ClientIpResolver, TrustedPeerTakesRightMostUntrustedForwardedEntry) {
  auto r = resolver();
  // The client forged "6.6.6.6"; our proxies appended the real client and themselves.
  EXPECT_EQ(r.resolve("10.0.0.5", "6.6.6.6, 198.51.100.4, 10.9.9.9"), "198.51.100.4");
  EXPECT_EQ(r.resolve("10.0.0.5", "198.51.100.4"), "198.51.100.4");
  EXPECT_EQ(r.resolve("192.168.1.7", "198.51.100.4,192.168.1.7"), "198.51.100.4");
  EXPECT_EQ(r.resolve("fd00::1", "2001:db9::7, [fd12::3]:80"), "2001:db9::7");
  EXPECT_EQ(r.resolve("[fd00::1]:5555", "198.51.100.4:1234"), "198.51.100.4");
  EXPECT_EQ(r.resolve("::ffff:10.0.0.5", "198.51.100.4"), "198.51.100.4");
}

TEST(ClientIpResolver, TrustedPeerWithoutHeaderIsTheClient) {
  auto r = resolver();
  EXPECT_EQ(r.resolve("10.0.0.5", ""), "10.0.0.5");
  EXPECT_EQ(r.resolve("10.0.0.5", "  "), "10.0.0.5");
}

TEST(ClientIpResolver, AllHopsTrustedGivesTheFirstHop) {
  auto r = resolver();
  EXPECT_EQ(r.resolve("10.0.0.5", "10.1.1.1, 10.2.2.2"), "10.1.1.1");
}

TEST(ClientIpResolver, MalformedHeaderFallsBackToPeer) {
  auto r = resolver();
  EXPECT_EQ(r.resolve("10.0.0.5", "garbage"), "10.0.0.5");
  EXPECT_EQ(r.resolve("10.0.0.5", "198.51.100.4, unknown"), "10.0.0.5");
  EXPECT_EQ(r.resolve("10.0.0.5", "198.51.100.4,,10.1.1.1"), "10.0.0.5");
  EXPECT_EQ(r.resolve("10.0.0.5", "1.2.3.4:99999"), "10.0.0.5");
  // Garbage left of the right-most untrusted entry is never looked at.
  EXPECT_EQ(r.resolve("10.0.0.5", "junk, 198.51.100.4"), "198.51.100.4");
}

TEST(ClientIpResolver, NoTrustedProxiesMeansPeerAlways) {
  ClientIpResolver none;
  EXPECT_EQ(none.resolve("10.0.0.5", "198.51.100.4"), "10.0.0.5");
}

}  // namespace
}  // namespace fs::gateway
