#pragma once
// JSON string escaping for bodies built by hand (error bodies, reservation views): the escapes
// Boost.JSON's serializer writes (\" \\ \b \f \n \r \t, \u00XX for other control characters;
// everything else, UTF-8 included, as it is), so a hand-built body equals the serialized one.
#include <string>
#include <string_view>

namespace fs {

// Appends `s` escaped (without the surrounding quotes) to `out`.
void append_json_escaped(std::string& out, std::string_view s);
std::string json_escape(std::string_view s);

}  // namespace fs
