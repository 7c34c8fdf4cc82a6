#pragma once
// Small text helpers shared by modules that write quoted strings.

#include <string>
#include <string_view>

namespace lava {

// `s` as a JSON string literal, quotes included, as Python's
// json.dumps(s, ensure_ascii=False) writes it (non-ASCII kept). The result is
// also a valid YAML double-quoted scalar.
std::string json_quote(std::string_view s);

}  // namespace lava
