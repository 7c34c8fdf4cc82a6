#pragma once
// Validation of LAVA job definitions with LAVA 2023.01's strict schema (the
// one lava-run and the validate APIs apply; lava-protocols.md §7), applied at
// submission. Every problem is reported, each with its path and YAML
// position:
//   actions[2].test.definitions[0].name: does not match ^[-_a-zA-Z0-9.]+$ (line 31, column 9)
// Stateless after construction; one JobValidator may serve many threads.

#include "common/data/value.hpp"
#include "common/schema/schema.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace lava::common::job {

// Context variables a job may set (LAVA's CONTEXT_VARIABLES).
const std::vector<std::string>& context_variables();
// The deploy `to:` and boot `method:` values LAVA 2023.01's schema knows.
const std::vector<std::string>& deploy_methods();
const std::vector<std::string>& boot_methods();

struct JobCheck {
    data::Value document;   // the parsed job (None when the YAML did not parse)
    schema::Issues issues;  // empty when valid
    bool ok() const { return issues.empty(); }
};

// LAVA's two modes of lava_common.schemas.validate(): strict (unknown keys
// are errors everywhere) and lenient (unknown keys pass, except in `context`).
// LAVA 2023.01 itself warns with strict and accepts with lenient; see
// docs/adr/0005-job-validation.md for which one submission uses.
enum class Strictness { kStrict, kLenient };

class JobValidator {
public:
    // `extra_context_variables`: LAVA's EXTRA_CONTEXT_VARIABLES setting.
    explicit JobValidator(Strictness strictness = Strictness::kStrict,
                          std::vector<std::string> extra_context_variables = {});

    // Parses YAML text and validates it.
    JobCheck check_yaml(std::string_view yaml) const;
    // Validates an already parsed document.
    schema::Issues check(const data::Value& job) const;

private:
    void check_action(const data::Value& action, std::size_t index, schema::Issues& out) const;

    bool strict_;
    schema::Schema job_;
};

}  // namespace lava::common::job
