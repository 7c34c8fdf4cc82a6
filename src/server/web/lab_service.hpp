#pragma once
// Lab operations shared by every front end (REST, XML-RPC, later the web
// UI): the configuration files of device types, devices and workers in
// LAVA's layout, device visibility, and catalogue changes that queue their
// events. Each works inside the caller's transaction.

#include "common/base/error.hpp"
#include "server/store/devices.hpp"
#include "server/store/workers.hpp"
#include "server/web/app.hpp"

#include <optional>
#include <string>
#include <vector>

namespace lava::server::web {

// A device type's files: <dispatcher_config>/device-types/<name>.jinja2
// (then the further template directories), health-checks/<name>.yaml.
enum class TypeFile { kTemplate, kHealthCheck };
// A worker's files, in LAVA's lava_server/files.py order:
// <worker_config_dir>/<host>/{dispatcher,env,env-dut}.yaml, falling back to
// <worker_config_dir>/<host>.yaml (dispatcher) and the lab-wide
// <env_dir>/{env,env-dut}.yaml (env-dut also <env_dir>/env.dut.yaml).
enum class WorkerFile { kDispatcher, kEnv, kEnvDut };

// A name usable as one path component (no '/', not "." or "..", no NUL).
bool safe_file_name(const std::string& name);

std::optional<std::string> read_type_file(const App& app, const std::string& type, TypeFile kind);
// Whether the file read is the lab's own (dispatcher-config), not a shipped default.
bool type_file_is_local(const App& app, const std::string& type, TypeFile kind);
// The device types that have a template (LAVA's "available" types): the
// names of *.jinja2 files but base*, sorted.
std::vector<std::string> available_type_templates(const App& app);
bool write_type_file(const App& app, const std::string& type, TypeFile kind, const std::string& text);

std::optional<std::string> read_worker_file(const App& app, const std::string& worker, WorkerFile kind);
// Whether the worker has its own file (not the lab-wide default).
bool worker_file_is_own(const App& app, const std::string& worker, WorkerFile kind);
bool write_worker_file(const App& app, const std::string& worker, WorkerFile kind, const std::string& text);

bool write_device_dictionary(const App& app, const std::string& hostname, const std::string& text);
// The device's configuration: its Jinja2 dictionary, or rendered as YAML
// with a job context (YAML text). Errors: no dictionary, bad context, bad template.
Result<std::string> device_configuration(const App& app, const std::string& hostname, bool render,
                                         const std::optional<std::string>& context_yaml);

// The device, if the caller may see it.
std::optional<store::Device> visible_device(Call& call, const std::string& hostname);
// The devices the caller may see (Retired ones only when asked), by hostname.
std::vector<store::Device> visible_devices(Call& call, bool include_retired);

// Catalogue changes that queue the events of what they touched.
Result<store::Device> create_device(Call& call, const store::NewDevice& device, const std::string& reason);
Result<store::Device> update_device(Call& call, const std::string& hostname, const store::DeviceUpdate& update,
                                    const std::string& reason);
Result<store::Worker> update_worker(Call& call, const std::string& hostname, const store::WorkerUpdate& update,
                                    const std::string& reason);

}  // namespace lava::server::web
