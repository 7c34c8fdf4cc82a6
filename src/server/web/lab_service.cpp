#include "server/web/lab_service.hpp"

#include "common/base/file.hpp"
#include "common/yaml/load.hpp"
#include "server/web/jobs_service.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace lava::server::web {
namespace {

namespace fs = std::filesystem;

// Written beside and renamed over: readers never see half a file.
bool write_text(const fs::path& path, const std::string& text) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    const fs::path tmp = path.string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) return false;
        out << text;
        if (!out.flush()) return false;
    }
    fs::rename(tmp, path, ec);
    return !ec;
}

fs::path local_type_path(const App& app, const std::string& type, TypeFile kind) {
    const fs::path root(app.settings().web.dispatcher_config);
    return kind == TypeFile::kHealthCheck ? root / "health-checks" / (type + ".yaml")
                                          : root / "device-types" / (type + ".jinja2");
}

std::vector<fs::path> worker_paths(const App& app, const std::string& worker, WorkerFile kind) {
    const auto& s = app.settings().web;
    const fs::path dir(s.worker_config_dir);
    switch (kind) {
        case WorkerFile::kDispatcher: return {dir / worker / "dispatcher.yaml", dir / (worker + ".yaml")};
        case WorkerFile::kEnv: return {dir / worker / "env.yaml", fs::path(s.env_dir) / "env.yaml"};
        case WorkerFile::kEnvDut:  // env.dut.yaml: LAVA's name before 2020.10, still read
            return {dir / worker / "env-dut.yaml", fs::path(s.env_dir) / "env-dut.yaml",
                    fs::path(s.env_dir) / "env.dut.yaml"};
    }
    return {};
}

}  // namespace

bool safe_file_name(const std::string& name) {
    return !name.empty() && name != "." && name != ".." && name[0] != '.' &&
           name.find_first_of(std::string("/\\\0", 3)) == std::string::npos;
}

std::optional<std::string> read_type_file(const App& app, const std::string& type, TypeFile kind) {
    if (!safe_file_name(type)) return std::nullopt;
    if (auto text = read_file(local_type_path(app, type, kind).string())) return text;
    if (kind == TypeFile::kTemplate) {
        // A template shipped in a further template directory counts too.
        for (const auto& dir : app.devices().search_path()) {
            if (auto text = read_file((fs::path(dir) / (type + ".jinja2")).string())) return text;
        }
    }
    return std::nullopt;
}

std::vector<std::string> available_type_templates(const App& app) {
    std::set<std::string> names;
    std::vector<std::string> dirs = {(fs::path(app.settings().web.dispatcher_config) / "device-types").string()};
    for (const auto& dir : app.devices().search_path()) dirs.push_back(dir);
    for (const auto& dir : dirs) {
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(dir, ec)) {
            const std::string file = entry.path().filename().string();
            if (entry.path().extension() != ".jinja2" || file.rfind("base", 0) == 0) continue;
            names.insert(file.substr(0, file.size() - std::string(".jinja2").size()));
        }
    }
    return {names.begin(), names.end()};
}

bool type_file_is_local(const App& app, const std::string& type, TypeFile kind) {
    std::error_code ec;
    return safe_file_name(type) && fs::exists(local_type_path(app, type, kind), ec);
}

bool write_type_file(const App& app, const std::string& type, TypeFile kind, const std::string& text) {
    return safe_file_name(type) && write_text(local_type_path(app, type, kind), text);
}

std::optional<std::string> read_worker_file(const App& app, const std::string& worker, WorkerFile kind) {
    if (!safe_file_name(worker)) return std::nullopt;
    for (const auto& path : worker_paths(app, worker, kind)) {
        if (auto text = read_file(path.string())) return text;
    }
    return std::nullopt;
}

bool worker_file_is_own(const App& app, const std::string& worker, WorkerFile kind) {
    std::error_code ec;
    return safe_file_name(worker) && fs::exists(worker_paths(app, worker, kind).front(), ec);
}

bool write_worker_file(const App& app, const std::string& worker, WorkerFile kind, const std::string& text) {
    return safe_file_name(worker) && write_text(worker_paths(app, worker, kind).front(), text);
}

bool write_device_dictionary(const App& app, const std::string& hostname, const std::string& text) {
    return safe_file_name(hostname) &&
           write_text(fs::path(app.settings().web.dispatcher_config) / "devices" / (hostname + ".jinja2"), text);
}

Result<std::string> device_configuration(const App& app, const std::string& hostname, bool render,
                                         const std::optional<std::string>& context_yaml) {
    const auto& config = app.devices();
    if (!config.has_dictionary(hostname)) {
        return make_error(errc::kNotFound, "Device '" + hostname + "' does not have a configuration");
    }
    if (!render) return config.dictionary(hostname);
    common::data::Dict context;
    if (context_yaml) {
        auto parsed = common::yaml::load(*context_yaml);
        if (!parsed) {
            return make_error(errc::kInvalidArgument,
                              "Job Context '" + *context_yaml + "' is not valid: " + parsed.error().message);
        }
        if (parsed->is_dict()) context = parsed->as_dict();
    }
    return config.render_text(hostname, context);
}

std::optional<store::Device> visible_device(Call& call, const std::string& hostname) {
    store::DeviceRepository devices(call.tx);
    const auto visible = devices.visible(call.who.user);
    if (std::find(visible.begin(), visible.end(), hostname) == visible.end()) return std::nullopt;
    auto d = devices.get(hostname);
    if (!d) return std::nullopt;
    return std::move(*d);
}

std::vector<store::Device> visible_devices(Call& call, bool include_retired) {
    store::DeviceRepository devices(call.tx);
    // Sorted here, by bytes: the database's collation may order names otherwise.
    auto visible = devices.visible(call.who.user);
    std::sort(visible.begin(), visible.end());
    store::DeviceFilter filter;
    filter.include_retired = include_retired;
    std::vector<store::Device> out;
    for (auto& d : devices.list(filter)) {
        if (std::binary_search(visible.begin(), visible.end(), d.hostname)) out.push_back(std::move(d));
    }
    return out;
}

Result<store::Device> create_device(Call& call, const store::NewDevice& device, const std::string& reason) {
    auto created = store::DeviceRepository(call.tx).create(device, store::Change{call.who.user->username, reason});
    if (created) {
        store::Touched touched;
        touched.device(created->hostname);
        queue_touched(call, touched);
    }
    return created;
}

Result<store::Device> update_device(Call& call, const std::string& hostname, const store::DeviceUpdate& update,
                                    const std::string& reason) {
    auto updated =
        store::DeviceRepository(call.tx).update(hostname, update, store::Change{call.who.user->username, reason});
    if (updated) {
        store::Touched touched;
        touched.device(hostname);
        queue_touched(call, touched);
    }
    return updated;
}

Result<store::Worker> update_worker(Call& call, const std::string& hostname, const store::WorkerUpdate& update,
                                    const std::string& reason) {
    auto updated =
        store::WorkerRepository(call.tx).update(hostname, update, store::Change{call.who.user->username, reason});
    if (updated) queue_worker_event(call, hostname);
    return updated;
}

}  // namespace lava::server::web
