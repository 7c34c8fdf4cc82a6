#include "server/manage/checks.hpp"

#include "common/client/http.hpp"
#include "common/device/device.hpp"
#include "common/job/testdef.hpp"
#include "common/job/validate.hpp"
#include "common/yaml/dump.hpp"
#include "common/yaml/load.hpp"
#include "server/store/devices.hpp"
#include "server/store/schema.hpp"

#include <unistd.h>

#include <filesystem>
#include <set>

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

bool run_checks(common::db::Pool& pool, const LabSettings& lab, std::ostream& out) {
    bool all = true;
    const auto ok = [&](const std::string& check, const std::string& detail) {
        out << "ok    " << check << ": " << detail << "\n";
    };
    const auto fail = [&](const std::string& check, const std::string& why) {
        out << "FAIL  " << check << ": " << why << "\n";
        all = false;
    };
    namespace fs = std::filesystem;

    ok("settings", lab.settings_file.empty() ? "no settings file: defaults, environment and flags"
                                             : lab.settings_file + " read");

    std::vector<std::string> db_devices;
    try {
        auto lease = pool.acquire(std::chrono::seconds(5));
        const auto row = pqxx::nontransaction(lease->raw()).exec1(
            "SELECT current_database(), current_setting('server_version')");
        ok("database", row[0].as<std::string>() + " on PostgreSQL " + row[1].as<std::string>());
        if (auto schema = store::require_schema(lease->raw(), "lava-server")) {
            ok("schema", "version " + std::to_string(*schema) + ", this build's");
            common::db::Tx tx(*lease);
            for (const auto& d : store::DeviceRepository(tx).list({})) db_devices.push_back(d.hostname);
        } else {
            fail("schema", schema.error().message);
        }
    } catch (const std::exception& e) {
        fail("database", common::db::first_line(e.what()));
    }

    // Every device's dictionary renders into a configuration lava-run takes.
    std::set<std::string> devices(db_devices.begin(), db_devices.end());
    std::error_code ec;
    const fs::path dc(lab.dispatcher_config);
    if (!fs::is_directory(dc / "devices", ec)) {
        fail("dispatcher-config", (dc / "devices").string() + " is not a directory");
    } else {
        for (const auto& entry : fs::directory_iterator(dc / "devices", ec)) {
            if (entry.path().extension() == ".jinja2") devices.insert(entry.path().stem().string());
        }
        long rendered = 0;
        for (const auto& hostname : devices) {
            auto r = render_device_dictionary(RenderRequest{lab.dispatcher_config, lab.template_dirs, hostname, {}, true});
            if (r) {
                ++rendered;
            } else {
                fail("device " + hostname, r.error().message);
            }
        }
        if (rendered == static_cast<long>(devices.size())) {
            ok("dispatcher-config", (rendered == 1 ? std::string("1 device dictionary renders")
                                                   : std::to_string(rendered) + " device dictionaries render") +
                                        " (" + lab.dispatcher_config + ")");
        }
    }

    // The job output takes a file (as the user running this: run it as lavaserver).
    const fs::path probe = fs::path(lab.job_output) / (".lava-check-" + std::to_string(::getpid()));
    if (std::ofstream(probe).good()) {
        fs::remove(probe, ec);
        ok("job-output", lab.job_output + " is writable");
    } else {
        fail("job-output", lab.job_output + " is not writable by this user");
    }

    if (lab.publisher.empty()) {
        ok("publisher", "none configured (websocket_upstream is empty)");
    } else {
        common::client::HttpCall call;
        call.url = "http://" + lab.publisher + "/ws/v1/healthz";
        call.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
        const auto r = common::client::http_request(call);
        if (r.status == 200) {
            ok("publisher", "lava-publisher answers on " + lab.publisher);
        } else {
            fail("publisher", "lava-publisher does not answer on " + lab.publisher + ": " +
                                  (r.status == 0 ? r.error : "HTTP " + std::to_string(r.status)));
        }
    }
    return all;
}

}  // namespace lava::server::manage
