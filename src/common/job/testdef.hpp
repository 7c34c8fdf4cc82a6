#pragma once
// "Lava-Test Test Definition 1.0" files (lava-protocols.md §10.3): LAVA's
// schema (metadata, install, params/parameters, parse, run), which tolerates
// extra keys in a standalone file, plus what LAVA only finds out at run time:
// parse.pattern must be a valid (Python-syntax) regular expression with the
// named groups test_case_id and result. Stateless; thread-safe.

#include "common/data/value.hpp"
#include "common/schema/schema.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace lava::common::job {

// LAVA's testdef() mapping, as used inside jobs (`from: inline`).
schema::Fields testdef_fields(bool strict);

struct TestdefCheck {
    data::Value document;
    schema::Issues issues;
    bool ok() const { return issues.empty(); }
};

TestdefCheck check_testdef_yaml(std::string_view yaml);
schema::Issues check_testdef(const data::Value& testdef);

// nullopt when `pattern` compiles as a Python-style regular expression
// (PCRE2, multi-line) and has the groups test_case_id and result; otherwise
// what is wrong with it.
std::optional<std::string> check_parse_pattern(const std::string& pattern);

}  // namespace lava::common::job
