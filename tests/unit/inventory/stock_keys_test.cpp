// Redis key names of a sale.
#include "inventory/stock_keys.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace fs::inventory {
namespace {

TEST(UsersKey, SpellsTheUsersKeyOfStockKeys) {
  const std::string longest(64, 'p');
  const std::string longer_than_valid(300, 'q');  // spills to the heap
  for (const std::string& id :
       {std::string("iphone-15"), std::string("a"), longest, longer_than_valid}) {
    for (std::int64_t generation : {std::int64_t{1}, std::int64_t{42}, INT64_MAX, INT64_MIN}) {
      const UsersKey key(id, generation);
      EXPECT_EQ(key.view(), StockKeys(id, generation).users()) << id << " " << generation;
    }
  }
  EXPECT_EQ(UsersKey("iphone-15", 3).view(), "fs:{iphone-15:3}:users");
}

}  // namespace
}  // namespace fs::inventory
