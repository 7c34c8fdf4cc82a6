#include "common/device/device.hpp"

#include "common/base/file.hpp"
#include "common/yaml/load.hpp"

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace lava::common::device {
namespace {

namespace fs = std::filesystem;
using data::Value;
using namespace schema;

Result<void> check_hostname(const std::string& hostname) {
    const bool ok = !hostname.empty() && hostname.size() <= 200 &&
                    hostname.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                               "0123456789-_.") == std::string::npos &&
                    hostname != "." && hostname != "..";
    if (!ok) return make_error(errc::kInvalidArgument, "invalid device hostname '" + hostname + "'");
    return {};
}

Schema timeout() {
    std::vector<Schema> alts;
    for (const char* unit : {"days", "hours", "minutes", "seconds"}) {
        alts.push_back(map({{required(unit), range(1, std::nullopt)}, {optional("skip"), boolean()}},
                           MapOptions{true, {}}));
    }
    return any(std::move(alts));
}

const Schema& device_schema() {
    static const Schema kSchema = [] {
        const MapOptions extra{true, {}};
        auto m = [&](Fields f) { return map(std::move(f), extra); };
        const Schema str_or_list = any({str(), list({str()})});
        const Schema media_entry = m({{required("uuid"), str()}, {required("device_id"), integer()}});
        return m({
            {optional("character_delays"), m({{optional("boot"), integer()}, {optional("test"), integer()}})},
            {optional("commands"),
             m({{optional("connect"), str()},
                {optional("connections"),
                 m({{optional(str()), m({{required("connect"), str()}, {optional("tags"), list({str()})}})}})},
                {optional("hard_reset"), str_or_list},
                {optional("soft_reboot"), str_or_list},
                {optional("power_off"), str_or_list},
                {optional("power_on"), str_or_list},
                {optional("pre_power_command"), str_or_list},
                {optional("pre_os_command"), str_or_list},
                {optional("users"), m({{optional(str()), m({{required("do"), str()}, {optional("undo"), str()}})}})}})},
            {required("constants"), dict()},
            {optional("adb_serial_number"), str()},
            {optional("fastboot_serial_number"), str()},
            {optional("fastboot_options"), list({str()})},
            {optional("fastboot_via_uboot"), boolean()},
            {optional("device_info"), list({dict()})},
            {optional("static_info"), list({dict()})},
            {optional("storage_info"), list({dict()})},
            {optional("environment"), dict()},
            {optional("flash_cmds_order"), list({str()})},
            {required("parameters"),
             m({{optional("interfaces"), dict()},
                {optional("media"),
                 m({{optional("sata"), m({{required("UUID-required"), boolean()},
                                          {required(str(), "required key not provided"),
                                           m({{required("uuid"), str()},
                                              {required("device_id"), integer()},
                                              {required("uboot_interface"), str()},
                                              {required("grub_interface"), str()},
                                              {required("boot_part"), integer()}})}})},
                    {optional("sd"), m({{optional("UUID-required"), boolean()},
                                        {required(str(), "required key not provided"), media_entry}})},
                    {optional("usb"), m({{optional("UUID-required"), boolean()},
                                         {required(str(), "required key not provided"), media_entry}})}})},
                {optional(in({"image", "booti", "uimage", "bootm", "zimage", "bootz"})),
                 m({{required("kernel"), str()}, {required("ramdisk"), str()}, {required("dtb"), str()}})},
                {optional("pass"), literal(Value::none())}})},
            {optional("board_id"), str()},
            {optional("usb_vendor_id"), all({str(), length(4, 4)})},
            {optional("usb_product_id"), all({str(), length(4, 4)})},
            {optional("usb_sleep"), integer()},
            {optional("usb_filesystem_label"), str()},
            {optional("usb_serial_driver"), str()},
            {required("actions"),
             m({{required("deploy"), m({{required("methods"), dict()},
                                        {optional("connections"), dict()},
                                        {optional("parameters"), dict()}})},
                {required("boot"), m({{required("connections"), dict()}, {required("methods"), dict()}})}})},
            {required("timeouts"), m({{required("actions"), m({{optional(str()), timeout()}})},
                                      {required("connections"), m({{optional(str()), timeout()}})}})},
            {optional("available_architectures"), list({str()})},
        });
    }();
    return kSchema;
}

}  // namespace

std::optional<std::string> extends_target(const std::string& source) {
    static const std::regex re(R"(\{%[-+]?\s*extends\s+['"]([^'"]+)['"]\s*[-+]?%\})");
    std::smatch m;
    if (std::regex_search(source, m, re)) return m[1].str();
    return std::nullopt;
}

Issues validate_device_config(const Value& config) {
    if (!config.is_dict()) {
        return {Issue{"", "the rendered device configuration is not a mapping", config.mark}};
    }
    Issues out = validate(device_schema(), config);
    // A device reached over a primary (ssh) connection has no power control.
    const Value* actions = config.find("actions");
    const Value* deploy = actions ? actions->find("deploy") : nullptr;
    const Value* methods = deploy ? deploy->find("methods") : nullptr;
    const Value* ssh = methods ? methods->find("ssh") : nullptr;
    const Value* host = ssh ? ssh->find("host") : nullptr;
    const Value* commands = config.find("commands");
    if (host && host->truthy() && commands && commands->is_dict()) {
        for (const char* c : {"power_off", "power_on", "hard_reset"}) {
            if (commands->contains(c)) {
                out.push_back(Issue{"commands",
                                    "When primary connection is used, power control commands "
                                    "(power_off, power_on, hard_reset) should not be specified.",
                                    commands->mark});
                break;
            }
        }
    }
    return out;
}

DeviceConfig::DeviceConfig(Paths paths)
    : paths_(std::move(paths)),
      env_(std::make_shared<jinja::Environment>(std::make_shared<jinja::FileSystemLoader>(search_path()))) {}

std::vector<std::string> DeviceConfig::search_path() const {
    std::vector<std::string> out{(fs::path(paths_.root) / "devices").string(),
                                 (fs::path(paths_.root) / "device-types").string()};
    out.insert(out.end(), paths_.template_dirs.begin(), paths_.template_dirs.end());
    return out;
}

bool DeviceConfig::has_dictionary(const std::string& hostname) const {
    std::error_code ec;
    return check_hostname(hostname) &&
           fs::is_regular_file(fs::path(paths_.root) / "devices" / (hostname + ".jinja2"), ec);
}

Result<std::string> DeviceConfig::dictionary(const std::string& hostname) const {
    if (auto ok = check_hostname(hostname); !ok) return ok.error();
    auto text = read_file((fs::path(paths_.root) / "devices" / (hostname + ".jinja2")).string());
    if (!text) {
        return make_error(errc::kNotFound, "device '" + hostname + "' has no device dictionary (" +
                                               (fs::path(paths_.root) / "devices").string() + "/" +
                                               hostname + ".jinja2)");
    }
    return *text;
}

Result<std::string> DeviceConfig::template_name(const std::string& hostname) const {
    auto text = dictionary(hostname);
    if (!text) return text.error();
    auto target = extends_target(*text);
    if (!target) {
        return make_error(errc::kInvalidArgument,
                          "device '" + hostname + "': the device dictionary extends no template");
    }
    std::string name = *target;
    if (name.size() > 7 && name.compare(name.size() - 7, 7, ".jinja2") == 0) name.resize(name.size() - 7);
    return name;
}

Result<std::string> DeviceConfig::render_text(const std::string& hostname,
                                              const data::Dict& context) const {
    if (!has_dictionary(hostname)) {
        auto missing = dictionary(hostname);
        return missing.error();
    }
    auto out = env_->render(hostname + ".jinja2", context);
    if (!out) {
        return make_error(errc::kInvalidArgument,
                          "device '" + hostname + "': " + out.error().message);
    }
    return out;
}

Result<void> DeviceConfig::check_dictionary(const std::string& source) const {
    auto out = env_->render_source(source, {}, "<dictionary>");
    if (!out) return make_error(errc::kInvalidArgument, out.error().message);
    auto parsed = yaml::load(*out);
    if (!parsed) return make_error(errc::kInvalidArgument, parsed.error().message);
    return {};
}

Result<Value> DeviceConfig::render(const std::string& hostname, const data::Dict& context) const {
    auto text = render_text(hostname, context);
    if (!text) return text.error();
    auto doc = yaml::load(*text);
    if (!doc) {
        return make_error(errc::kInvalidArgument, "device '" + hostname +
                                                      "': the rendered configuration is not valid YAML: " +
                                                      doc.error().message);
    }
    const Issues issues = validate_device_config(*doc);
    if (!issues.empty()) {
        std::string msg = "device '" + hostname + "': invalid configuration: ";
        for (std::size_t i = 0; i < issues.size(); ++i) msg += (i ? "; " : "") + issues[i].to_string();
        return make_error(errc::kInvalidArgument, msg);
    }
    return doc;
}

Result<std::string> DeviceConfig::health_check(const std::string& hostname) const {
    auto name = template_name(hostname);
    if (!name) return name.error();
    for (const char* ext : {".yaml", ".yml"}) {
        if (auto text = read_file((fs::path(paths_.root) / "health-checks" / (*name + ext)).string())) return *text;
    }
    return make_error(errc::kNotFound, "no health check for device type template '" + *name + "'");
}

}  // namespace lava::common::device
