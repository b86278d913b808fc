#include "postgres/array_literal.hpp"

#include "common/append_decimal.hpp"

namespace fs::pg {

ArrayLiteral::ArrayLiteral(std::size_t reserve) {
  out_.reserve(reserve + 2);
  out_.push_back('{');
}

void ArrayLiteral::separate() {
  if (!empty_) out_.push_back(',');
  empty_ = false;
}

void ArrayLiteral::add(std::string_view text) {
  separate();
  out_.push_back('"');
  // Runs without '"' or '\\' are copied whole (an id has none, an event payload a quote every
  // few bytes). Not string_view::find_first_of: libstdc++ calls memchr on the set per byte.
  std::size_t plain = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '"' && c != '\\') continue;
    out_.append(text.data() + plain, i - plain);
    out_.push_back('\\');
    plain = i;  // the character itself starts the next run
  }
  out_.append(text.data() + plain, text.size() - plain);
  out_.push_back('"');
}

void ArrayLiteral::add_or_null(const std::optional<std::string>& text) {
  if (text)
    add(std::string_view(*text));
  else
    add_null();
}

void ArrayLiteral::add(std::int64_t number) {
  separate();
  append_decimal(out_, number);
}

void ArrayLiteral::add_null() {
  separate();
  out_.append("NULL", 4);
}

std::string ArrayLiteral::take() && {
  out_.push_back('}');
  return std::move(out_);
}

std::string array_literal(const std::vector<std::optional<std::string>>& items) {
  ArrayLiteral a;
  for (const auto& item : items) a.add_or_null(item);
  return std::move(a).take();
}

}  // namespace fs::pg
