#pragma once
// Reading the small flat JSON objects of the hot path without a DOM: the body of a "Buy Now"
// ({"product_id":"phone-1","quantity":1}) and the claims of its bearer token
// ({"sub":"buyer-1","exp":1764000000}). scan() reads exactly such objects; anything outside its
// subset of JSON is left to Boost.JSON, and both describe a member as the same Field, so the
// readers built on Field give one answer whichever parser ran (tests/fuzz hold them to it).
#include <cstdint>
#include <span>
#include <string_view>

namespace boost::json {
class object;
}

namespace fs::flat_json {

// One member of an object, as the field readers see it.
struct Field {
  enum class Kind { absent, null, string, int64, uint64, other };
  Kind kind = Kind::absent;
  std::string_view text;    // Kind::string: the decoded string (a view into the input or DOM)
  std::int64_t number = 0;  // Kind::int64
  bool absent_or_null() const { return kind == Kind::absent || kind == Kind::null; }
};

// Fills out[i] with the member named keys[i] (Kind::absent when missing). True only when `s`
// is an object of that subset: members whose keys and string values are printable ASCII
// without escapes, integers of at most 18 digits, true, false and null, JSON whitespace
// around them, every key once, at most 16 members. False for anything else (escapes,
// non-ASCII, nesting, fractions, exponents, longer numbers, "-0", repeated keys, invalid JSON):
// the caller then parses with Boost.JSON. out is unspecified after false.
bool scan(std::string_view s, std::span<const std::string_view> keys, std::span<Field> out);

// The member `key` of a DOM object, described as scan() describes it.
Field field_of(const boost::json::object& o, std::string_view key);

}  // namespace fs::flat_json
