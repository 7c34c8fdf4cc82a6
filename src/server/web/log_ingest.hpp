#pragma once
// Turning `results` log lines into test cases, as LAVA's server does
// (lava_results_app.dbutils.map_scanned_results): suite = definition, an
// optional set, name = case, result pass/fail/skip/unknown, measurement and
// units (the `lava` suite: duration in seconds), the log lines the case
// spans (starttc/endtc), and the message as YAML metadata (4096 characters
// at most). A bad message yields a failure note for the job instead.

#include "common/data/value.hpp"
#include "server/store/job_output.hpp"
#include "server/store/results.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace lava::server::web {

struct MappedResult {
    std::optional<store::NewTestCase> test_case;
    std::optional<std::string> failure_note;  // appended to the job's failure_comment
};

// `msg`: the record's msg. `output`: where `extra` metadata files go.
MappedResult map_result(std::int64_t job_id, const common::data::Value& msg, const store::JobOutput& output);

// A measurement as a decimal numeric(30, 10) accepts, or nullopt.
std::optional<std::string> decimal_text(const common::data::Value& v);

}  // namespace lava::server::web
