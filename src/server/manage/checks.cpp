#include "server/manage/checks.hpp"

#include "common/job/testdef.hpp"
#include "common/job/validate.hpp"

#include <fstream>
#include <sstream>

namespace lava::server::manage {
namespace {

bool read_file(const std::string& path, std::string& text, std::ostream& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        out << path << ": cannot read the file\n";
        return false;
    }
    std::ostringstream buf;
    buf << in.rdbuf();
    text = buf.str();
    return true;
}

bool report(const std::string& path, const common::schema::Issues& issues, std::ostream& out) {
    if (issues.empty()) {
        out << path << ": OK\n";
        return true;
    }
    for (const auto& issue : issues) out << path << ": " << issue.to_string() << "\n";
    return false;
}

}  // namespace

bool validate_job_files(const std::vector<std::string>& files, bool strict,
                        const std::vector<std::string>& extra_context_variables, std::ostream& out) {
    const common::job::JobValidator validator(
        strict ? common::job::Strictness::kStrict : common::job::Strictness::kLenient,
        extra_context_variables);
    bool all_ok = true;
    for (const auto& path : files) {
        std::string text;
        if (!read_file(path, text, out)) {
            all_ok = false;
            continue;
        }
        all_ok &= report(path, validator.check_yaml(text).issues, out);
    }
    return all_ok;
}

bool validate_testdef_files(const std::vector<std::string>& files, std::ostream& out) {
    bool all_ok = true;
    for (const auto& path : files) {
        std::string text;
        if (!read_file(path, text, out)) {
            all_ok = false;
            continue;
        }
        all_ok &= report(path, common::job::check_testdef_yaml(text).issues, out);
    }
    return all_ok;
}

}  // namespace lava::server::manage
