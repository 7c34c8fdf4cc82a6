#pragma once
// File checks behind `lava-server manage validate-job`, `validate-testdef`
// and `device-dictionary render`: they read files only, never the database.
// Output contract (scripts rely on it): one line per file, "FILE: OK", or one
// "FILE: <problem>" line per problem.

#include <ostream>
#include <string>
#include <vector>

namespace lava::server::manage {

// Returns true when every file is valid.
bool validate_job_files(const std::vector<std::string>& files, bool strict,
                        const std::vector<std::string>& extra_context_variables, std::ostream& out);
bool validate_testdef_files(const std::vector<std::string>& files, std::ostream& out);

}  // namespace lava::server::manage
