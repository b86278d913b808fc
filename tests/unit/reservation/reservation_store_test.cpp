#include "reservation/reservation_store.hpp"

#include <gtest/gtest.h>

#include "reservation/idempotency_store.hpp"

namespace fs::reservation {
namespace {

TEST(Fingerprint, IsSha256Hex) {
  // sha256("abc")
  EXPECT_EQ(fingerprint_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace fs::reservation
