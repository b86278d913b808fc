#include "domain/flat_json.hpp"

#include <array>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstring>

namespace fs::flat_json {

namespace {

bool json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Key equality with the cheap tests first: most pairs compared differ in length or first byte,
// and a memcmp call costs more than the keys it compares.
bool same_key(std::string_view a, std::string_view b) {
  return a.size() == b.size() && (a.empty() || (a[0] == b[0] && a == b));
}

class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}

  bool scan(std::span<const std::string_view> keys, std::span<Field> out) {
    for (auto& f : out) f = Field{};
    std::array<std::string_view, kMaxMembers> seen{};
    std::size_t members = 0;
    skip_space();
    if (!take('{')) return false;
    skip_space();
    if (take('}')) return end();
    for (;;) {
      std::string_view key;
      if (!string(key)) return false;
      if (members == kMaxMembers) return false;
      for (std::size_t k = 0; k < members; ++k)
        if (same_key(seen[k], key)) return false;  // the DOM decides what a repeated key means
      seen[members++] = key;
      skip_space();
      if (!take(':')) return false;
      skip_space();
      Field f;
      if (!value(f)) return false;
      for (std::size_t k = 0; k < keys.size() && k < out.size(); ++k)
        if (same_key(keys[k], key)) out[k] = f;
      skip_space();
      if (take(',')) {
        skip_space();
        continue;
      }
      if (take('}')) return end();
      return false;
    }
  }

 private:
  static constexpr std::size_t kMaxMembers = 16;

  bool more() const { return i_ < s_.size(); }
  bool take(char c) {
    if (!more() || s_[i_] != c) return false;
    ++i_;
    return true;
  }
  void skip_space() {
    while (more() && json_space(s_[i_])) ++i_;
  }
  bool end() {
    skip_space();
    return !more();
  }
  // What may follow a number or a literal; anything else makes it a longer token (1.5, 1e3,
  // nullx), which is the DOM's to judge.
  bool at_value_end() const {
    return !more() || s_[i_] == ',' || s_[i_] == '}' || json_space(s_[i_]);
  }

  // A string of printable ASCII without escapes: the closing quote found by memchr, then the
  // characters before it checked in one branch-free pass (an escaped quote fails on its '\\').
  bool string(std::string_view& text) {
    if (!take('"')) return false;
    const std::size_t start = i_;
    const void* quote = std::memchr(s_.data() + start, '"', s_.size() - start);
    if (quote == nullptr) return false;
    const auto end = static_cast<std::size_t>(static_cast<const char*>(quote) - s_.data());
    bool bad = false;
    for (std::size_t k = start; k < end; ++k) {
      const auto c = static_cast<unsigned char>(s_[k]);
      bad |= (c < 0x20) | (c > 0x7E) | (c == '\\');
    }
    if (bad) return false;
    text = s_.substr(start, end - start);
    i_ = end + 1;
    return true;
  }

  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return at_value_end();
  }

  bool value(Field& f) {
    if (!more()) return false;
    const char c = s_[i_];
    if (c == '"') {
      f.kind = Field::Kind::string;
      return string(f.text);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      const bool negative = take('-');
      const std::size_t start = i_;
      while (more() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      const std::size_t digits = i_ - start;
      // At most 18 digits always fit an int64; "-0" and leading zeros are the DOM's.
      if (digits == 0 || digits > 18 || (s_[start] == '0' && (digits > 1 || negative)))
        return false;
      if (!at_value_end()) return false;
      std::int64_t v = 0;
      for (std::size_t d = start; d < i_; ++d) v = v * 10 + (s_[d] - '0');
      f.kind = Field::Kind::int64;
      f.number = negative ? -v : v;
      return true;
    }
    if (c == 'n') {
      f.kind = Field::Kind::null;
      return literal("null");
    }
    if (c == 't' || c == 'f') {
      f.kind = Field::Kind::other;
      return literal(c == 't' ? "true" : "false");
    }
    return false;  // objects, arrays and anything invalid
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace

bool scan(std::string_view s, std::span<const std::string_view> keys, std::span<Field> out) {
  return Scanner(s).scan(keys, out);
}

Field field_of(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) return {};
  const boost::json::value& v = it->value();
  if (v.is_null()) return {Field::Kind::null, {}, 0};
  if (v.is_string()) return {Field::Kind::string, std::string_view(v.get_string()), 0};
  if (v.is_int64()) return {Field::Kind::int64, {}, v.get_int64()};
  if (v.is_uint64()) return {Field::Kind::uint64, {}, 0};
  return {Field::Kind::other, {}, 0};
}

}  // namespace fs::flat_json
