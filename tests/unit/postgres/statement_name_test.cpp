#include <gtest/gtest.h>

#include "postgres/connection.hpp"

namespace fs::pg {
namespace {

TEST(StatementNameTest, StableAndDistinct) {
  const std::string a = statement_name("SELECT 1");
  EXPECT_EQ(a, statement_name("SELECT 1"));
  EXPECT_NE(a, statement_name("SELECT 2"));
  EXPECT_NE(a, statement_name("SELECT 1 "));
}

TEST(StatementNameTest, IsAShortSqlIdentifier) {
  const std::string name = statement_name(std::string(10000, 'x'));
  EXPECT_LE(name.size(), 63u);  // NAMEDATALEN - 1
  EXPECT_EQ(name.rfind("fs_", 0), 0u);
  for (char ch : name) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_');
}

}  // namespace
}  // namespace fs::pg
