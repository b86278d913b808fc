// Pure pieces of src/events: partitioning, known types, dead-letter topics.
#include <gtest/gtest.h>

#include <map>

#include "events/consumer_loop.hpp"
#include "events/redis_streams_event_log.hpp"

namespace fs::events {
namespace {

TEST(PartitionOf, IsStableAndSpreadsKeys) {
  // FNV-1a 64 of "" is the offset basis: every process agrees on the mapping.
  EXPECT_EQ(partition_of("", 4), 14695981039346656037ull % 4);
  EXPECT_EQ(partition_of("3f0c8a0e-5b7e-4c1a-9d0e-2a6b1f4c9e21", 4),
            partition_of("3f0c8a0e-5b7e-4c1a-9d0e-2a6b1f4c9e21", 4));
  std::map<std::size_t, int> counts;
  for (int i = 0; i < 4000; ++i) ++counts[partition_of("res-" + std::to_string(i), 4)];
  ASSERT_EQ(counts.size(), 4u);
  for (auto& [p, n] : counts) {
    EXPECT_GT(n, 800) << p;
    EXPECT_LT(n, 1200) << p;
  }
  EXPECT_EQ(partition_of("x", 1), 0u);
}

TEST(EventTypes, KnownTypesAndDeadLetterTopic) {
  EXPECT_TRUE(is_known_type(types::reservation_created));
  EXPECT_TRUE(is_known_type(types::payment_refunded));
  EXPECT_FALSE(is_known_type("reservation.exploded"));
  EXPECT_FALSE(is_known_type(""));
  EXPECT_EQ(dead_letter_topic("reservations"), "reservations.dlq");
  EXPECT_EQ(poison("x").code, kPoison);
}

}  // namespace
}  // namespace fs::events
