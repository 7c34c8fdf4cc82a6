#pragma once
// The QEMU command of a `boot: {method: qemu}` action, as LAVA builds it
// (lava-protocols.md §8.2): the device's actions.boot.methods.<method>
// .parameters command + options + extra, then each deployed image's
// image_arg with {label} replaced by the downloaded file. Pure; unit-tested.

#include "common/data/value.hpp"

#include <string>
#include <vector>

namespace lava::worker::run {

struct DeployedImage {
    std::string label;      // the key under deploy `images`
    std::string file;       // where it was downloaded (and unpacked)
    std::string image_arg;  // "" when the job gave none
};

struct QemuCommand {
    std::vector<std::string> argv;
    std::string error;  // set when the device configuration lacks what is needed
};

QemuCommand qemu_command(const common::data::Value& device, const std::string& method,
                         const std::vector<DeployedImage>& images);

}  // namespace lava::worker::run
