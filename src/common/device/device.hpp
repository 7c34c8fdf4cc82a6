#pragma once
// Device configuration: a device dictionary (devices/<hostname>.jinja2) that
// extends a device-type template, rendered with a job's context, parsed as
// YAML and validated with LAVA's device schema (lava-protocols.md §8.1).
// Files are in LAVA's layout under a root (default
// /etc/lava-server/dispatcher-config): devices/, device-types/,
// health-checks/; further template directories (lava-cpp's shipped templates,
// LAVA's installed ones) are searched after root/device-types.
// A DeviceConfig is thread-safe; edited files are picked up on next use.

#include "common/base/error.hpp"
#include "common/data/value.hpp"
#include "common/jinja/jinja.hpp"
#include "common/schema/schema.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lava::common::device {

struct Paths {
    std::string root = "/etc/lava-server/dispatcher-config";
    std::vector<std::string> template_dirs;  // after root/device-types, in order
};

class DeviceConfig {
public:
    explicit DeviceConfig(Paths paths);

    // The Jinja2 search path for device dictionaries: devices/, device-types/, extras.
    std::vector<std::string> search_path() const;

    bool has_dictionary(const std::string& hostname) const;
    // The device dictionary's source text.
    Result<std::string> dictionary(const std::string& hostname) const;
    // The template the dictionary extends, without ".jinja2" ("qemu"); this
    // names the device's health check.
    Result<std::string> template_name(const std::string& hostname) const;

    // The dictionary rendered with `context` as template variables, as text.
    Result<std::string> render_text(const std::string& hostname, const data::Dict& context) const;
    // Rendered, parsed and validated. Errors name the device (and the key).
    Result<data::Value> render(const std::string& hostname, const data::Dict& context) const;

    // A dictionary given as text (not yet saved) renders and parses as YAML
    // (LAVA's devices/validate/ check); the error says what failed.
    Result<void> check_dictionary(const std::string& source) const;

    // The health-check job of the device's type: health-checks/<template>.yaml (or .yml).
    Result<std::string> health_check(const std::string& hostname) const;

private:
    Paths paths_;
    std::shared_ptr<jinja::Environment> env_;
};

// LAVA's device schema (extra keys allowed) and its power-control rule.
schema::Issues validate_device_config(const data::Value& config);

// The target of a template's {% extends '...' %}, if any.
std::optional<std::string> extends_target(const std::string& source);

}  // namespace lava::common::device
