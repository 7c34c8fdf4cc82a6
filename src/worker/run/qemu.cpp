#include "worker/run/qemu.hpp"

#include "worker/run/command.hpp"

namespace lava::worker::run {

namespace data = common::data;

QemuCommand qemu_command(const data::Value& device, const std::string& method, const std::vector<DeployedImage>& images) {
    QemuCommand out;
    const data::Value* params = nullptr;
    if (const auto* actions = device.find("actions")) {
        if (const auto* boot = actions->find("boot")) {
            if (const auto* methods = boot->find("methods")) {
                if (const auto* m = methods->find(method)) params = m->find("parameters");
            }
        }
    }
    if (!params || !params->is_dict()) {
        out.error = "Invalid device configuration: no actions.boot.methods." + method + ".parameters";
        return out;
    }
    const auto* command = params->find("command");
    if (!command || !command->is_str() || command->as_str().empty()) {
        out.error = "No QEMU binary command found in the device configuration (actions.boot.methods." + method +
                    ".parameters.command)";
        return out;
    }
    std::string line = command->as_str();
    for (const char* key : {"options", "extra"}) {
        if (const auto* list = params->find(key); list && list->is_sequence()) {
            for (const auto& option : list->as_list()) line += " " + option.str();
        }
    }
    for (const auto& image : images) {
        if (image.image_arg.empty()) continue;
        std::string arg = image.image_arg;
        // Every {label} of every image, as LAVA substitutes.
        for (const auto& other : images) {
            const std::string key = "{" + other.label + "}";
            for (auto at = arg.find(key); at != std::string::npos; at = arg.find(key, at + other.file.size())) {
                arg.replace(at, key.size(), other.file);
            }
        }
        line += " " + arg;
    }
    out.argv = split_command(line);
    return out;
}

}  // namespace lava::worker::run
