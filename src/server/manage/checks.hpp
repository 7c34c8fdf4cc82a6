#pragma once
// File checks behind `lava-server manage validate-job`, `validate-testdef`
// and `device-dictionary render`: they read files only, never the database.
// Output contract (scripts rely on it): one line per file, "FILE: OK", or one
// "FILE: <problem>" line per problem.

#include "common/base/error.hpp"
#include "common/db/pool.hpp"
#include "server/manage/manage.hpp"

#include <ostream>
#include <string>
#include <vector>

namespace lava::server::manage {

// Returns true when every file is valid.
bool validate_job_files(const std::vector<std::string>& files, bool strict,
                        const std::vector<std::string>& extra_context_variables, std::ostream& out);
bool validate_testdef_files(const std::vector<std::string>& files, std::ostream& out);

struct RenderRequest {
    std::string dispatcher_config;           // the root holding devices/ and device-types/
    std::vector<std::string> template_dirs;  // searched after device-types/
    std::string hostname;
    std::vector<std::string> context;  // KEY=VALUE, VALUE read as YAML ("1024", "[a, b]")
    bool yaml = false;                 // print the parsed, validated configuration
};

// `lava-server manage check`: one line per check, "ok    <check>: <detail>"
// or "FAIL  <check>: <why>" (settings, database, schema, every device's
// dictionary, job output, publisher). True when every check passed.
bool run_checks(common::db::Pool& pool, const LabSettings& lab, std::ostream& out);

// The device dictionary rendered exactly as Jinja2 renders it (or, with
// `yaml`, parsed and validated and dumped as YAML).
Result<std::string> render_device_dictionary(const RenderRequest& request);

}  // namespace lava::server::manage
