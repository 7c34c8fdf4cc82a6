#pragma once
// YAML text -> data::Value, resolved as PyYAML's SafeLoader resolves it
// (YAML 1.1), because LAVA reads every job, device configuration and test
// definition that way: `yes` is True, `0755` is 493, `1e3` is a string,
// `2023-01-01` is a date, `1:30` is 90, a repeated key keeps its last value,
// and `<<` merges mappings. Every value carries its line and column.
// Stateless; safe from any thread.

#include "common/base/error.hpp"
#include "common/data/value.hpp"

#include <string_view>

namespace lava::common::yaml {

// The first document of `text`. A syntax error, or a tag PyYAML's SafeLoader
// cannot construct, is an error whose message ends with "(line L, column C)";
// the position is also in the returned Error's message only, so callers that
// need it structured use load_with_mark().
Result<data::Value> load(std::string_view text);

struct LoadFailure {
    std::string problem;  // without the position
    data::Mark mark;
};

// As load(), with the failure's position kept apart from its text.
boost::system::result<data::Value, LoadFailure> load_with_mark(std::string_view text);

// How PyYAML resolves an untagged plain scalar: None, bool, int, float, a
// date, or the string itself. Fails only for `=` (SafeLoader has no
// constructor for the 'value' tag).
boost::system::result<data::Value, std::string> resolve_plain(std::string_view text);

}  // namespace lava::common::yaml
