#include <gtest/gtest.h>

#include <stdexcept>

#include "postgres/database.hpp"

namespace fs::pg {
namespace {

// Two rows of (id, name, note) with one NULL, laid out as the implementation fills them.
Rows sample_rows() {
  Rows rows;
  rows.names_ = {"id", "name", "note"};
  rows.cells_ = {"1", "alice", "", "2", "", "second"};
  rows.nulls_ = {false, false, true, false, false, false};
  rows.rows_ = 2;
  rows.affected_ = 2;
  return rows;
}

TEST(RowsTest, ShapeAndAffected) {
  const Rows rows = sample_rows();
  EXPECT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows.columns(), 3u);
  EXPECT_FALSE(rows.empty());
  EXPECT_EQ(rows.affected(), 2);
}

TEST(RowsTest, CellsByIndexAreRowMajor) {
  const Rows rows = sample_rows();
  EXPECT_EQ(rows.get(0, 0), "1");
  EXPECT_EQ(rows.get(0, 1), "alice");
  EXPECT_EQ(rows.get(1, 0), "2");
  EXPECT_EQ(rows.get(1, 2), "second");
}

TEST(RowsTest, NullIsDistinctFromEmptyString) {
  const Rows rows = sample_rows();
  EXPECT_TRUE(rows.is_null(0, 2));
  EXPECT_EQ(rows.get(0, 2), "");
  EXPECT_FALSE(rows.is_null(1, 1));
  EXPECT_EQ(rows.get(1, 1), "");
}

TEST(RowsTest, ColumnsByName) {
  const Rows rows = sample_rows();
  EXPECT_EQ(rows.column("id"), 0);
  EXPECT_EQ(rows.column("note"), 2);
  EXPECT_EQ(rows.column("missing"), -1);
  EXPECT_EQ(rows.get(0, "name"), "alice");
  EXPECT_EQ(rows.get(1, "note"), "second");
}

TEST(RowsTest, OutOfRangeIsABug) {
  const Rows rows = sample_rows();
  EXPECT_THROW((void)rows.get(2, 0), std::out_of_range);
  EXPECT_THROW((void)rows.get(0, 3), std::out_of_range);
  EXPECT_THROW((void)rows.is_null(5, 0), std::out_of_range);
  EXPECT_THROW((void)rows.get(0, "missing"), std::out_of_range);
}

TEST(RowsTest, EmptyResult) {
  Rows rows;
  rows.names_ = {"id"};
  EXPECT_TRUE(rows.empty());
  EXPECT_EQ(rows.size(), 0u);
  EXPECT_EQ(rows.columns(), 1u);
  EXPECT_EQ(rows.affected(), 0);
  EXPECT_THROW((void)rows.get(0, 0), std::out_of_range);
}

}  // namespace
}  // namespace fs::pg
