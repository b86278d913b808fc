#include <gtest/gtest.h>

#include "redis/redis_client.hpp"

namespace fs::redis {
namespace {

// Expected digests come from `echo -n '<source>' | sha1sum`.
TEST(Script, Sha1OfKnownSources) {
  EXPECT_EQ(Script("return 1").sha1, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
  EXPECT_EQ(Script("return redis.call('GET', KEYS[1])").sha1,
            "d3c21d0c2b9ca22f82737626a27bcaf5d288f99f");
  EXPECT_EQ(Script("").sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST(Script, KeepsSource) { EXPECT_EQ(Script("return 1").source, "return 1"); }

}  // namespace
}  // namespace fs::redis
