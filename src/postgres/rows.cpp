#include <stdexcept>
#include <string>

#include "postgres/database.hpp"

namespace fs::pg {

namespace {

std::size_t cell_index(const Rows& rows, std::size_t row, std::size_t col) {
  // Asking for a cell that is not there is a caller bug, not an expected failure.
  if (row >= rows.size() || col >= rows.columns()) {
    throw std::out_of_range("pg::Rows: cell (" + std::to_string(row) + ", " + std::to_string(col) +
                            ") outside " + std::to_string(rows.size()) + "x" +
                            std::to_string(rows.columns()));
  }
  return row * rows.columns() + col;
}

}  // namespace

std::string_view Rows::get(std::size_t row, std::size_t col) const {
  return cells_[cell_index(*this, row, col)];
}

bool Rows::is_null(std::size_t row, std::size_t col) const {
  return nulls_[cell_index(*this, row, col)];
}

int Rows::column(std::string_view name) const {
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == name) return static_cast<int>(i);
  }
  return -1;
}

std::string_view Rows::get(std::size_t row, std::string_view name) const {
  const int col = column(name);
  if (col < 0) throw std::out_of_range("pg::Rows: no column named " + std::string(name));
  return get(row, static_cast<std::size_t>(col));
}

}  // namespace fs::pg
