#pragma once
// JSON from outside (REST bodies, events, worker API replies) is parsed only
// through parse_json(): nlohmann's parser after a one-pass check of the
// input limits (json_max_depth, json_max_nodes; common/base/limits.hpp), so
// that a hostile body cannot make any later recursive step (dump, compare)
// overflow the stack or the parse itself allocate without bound.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace lava::proto {

// Why `text` passes the JSON limits ("arrays and objects nested deeper than
// 100 (json_max_depth)"), or nullopt. Counts, outside strings, the nesting
// of [ and { and the values (containers, plus one per ',' and ':').
std::optional<std::string> json_limits_problem(std::string_view text);

// nlohmann::json::parse(text, nullptr, false), or a discarded value when
// `text` is not JSON or passes a limit; `problem`, when given, says which.
nlohmann::json parse_json(std::string_view text, std::string* problem = nullptr);

}  // namespace lava::proto
