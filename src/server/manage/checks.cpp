#include "server/manage/checks.hpp"

#include "common/device/device.hpp"
#include "common/job/testdef.hpp"
#include "common/job/validate.hpp"
#include "common/yaml/dump.hpp"
#include "common/yaml/load.hpp"

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

// Checks each file with `check` and reports it; true when all are valid.
template <class Check>
bool check_files(const std::vector<std::string>& files, std::ostream& out, Check check) {
    bool all_ok = true;
    for (const auto& path : files) {
        std::string text;
        if (!read_file(path, text, out)) {
            all_ok = false;
            continue;
        }
        all_ok &= report(path, check(text), out);
    }
    return all_ok;
}

}  // namespace

bool validate_job_files(const std::vector<std::string>& files, bool strict,
                        const std::vector<std::string>& extra_context_variables, std::ostream& out) {
    const common::job::JobValidator validator(
        strict ? common::job::Strictness::kStrict : common::job::Strictness::kLenient,
        extra_context_variables);
    return check_files(files, out, [&](const std::string& text) {
        return validator.check_yaml(text).issues;
    });
}

bool validate_testdef_files(const std::vector<std::string>& files, std::ostream& out) {
    return check_files(files, out, [](const std::string& text) {
        return common::job::check_testdef_yaml(text).issues;
    });
}

Result<std::string> render_device_dictionary(const RenderRequest& request) {
    common::data::Dict context;
    for (const auto& kv : request.context) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) {
            return make_error(errc::kInvalidArgument,
                              "--context takes KEY=VALUE, got '" + kv + "'");
        }
        // YAML's types where the value is YAML (arch=amd64, boot_retry=3,
        // args=[a, b]); the text itself where it is not (",vers=4": the user
        // means the string, not a YAML error).
        const std::string text = kv.substr(eq + 1);
        auto value = common::yaml::load(text);
        context.emplace_back(common::data::Value(kv.substr(0, eq)),
                             value ? std::move(*value) : common::data::Value(text));
    }
    const common::device::DeviceConfig config(
        common::device::Paths{request.dispatcher_config, request.template_dirs});
    if (!request.yaml) return config.render_text(request.hostname, context);
    auto rendered = config.render(request.hostname, context);
    if (!rendered) return rendered.error();
    return common::yaml::dump(*rendered);
}

}  // namespace lava::server::manage
