#pragma once
// PostgreSQL array literals ("{"a",NULL,42}"), the one way a batch of rows travels in a single
// parameter (a statement unnests them): built in place, element by element, without a vector of
// strings in between.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fs::pg {

class ArrayLiteral {
 public:
  explicit ArrayLiteral(std::size_t reserve = 0);
  // A text element, quoted; '"' and '\' escaped.
  void add(std::string_view text);
  void add_or_null(const std::optional<std::string>& text);  // NULL for nullopt
  // A number, unquoted (for int[] and bigint[] parameters).
  void add(std::int64_t number);
  void add_null();
  // The literal, closed. The builder is spent.
  std::string take() &&;

 private:
  void separate();
  std::string out_;
  bool empty_ = true;
};

// Every element quoted ("NULL" unquoted for nullopt).
std::string array_literal(const std::vector<std::optional<std::string>>& items);

}  // namespace fs::pg
