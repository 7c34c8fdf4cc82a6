#pragma once
// Real boards (lava-protocols.md §7): LAVA's `deploy: to: tftp` (the files in
// a per-job directory under the worker's TFTP root, the overlay added to the
// ramdisk, u-boot headers with mkimage) and `boot: method: u-boot` (connect
// to the console, power-cycle through the PDU, interrupt u-boot, type the
// device's commands with LAVA's substitutions, watch for u-boot's error
// messages). The pure parts are here for unit tests; the actions are built
// by actions.cpp's builder through build_tftp_deploy / build_uboot_boot.

#include "worker/run/pipeline.hpp"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lava::worker::run {

// ---- pure parts

// One placeholder and its value; nullopt or "" when the job has none.
struct Substitution {
    std::string key;  // "{KERNEL}"
    std::optional<std::string> value;
};

// LAVA's substitute(): every key with a value is replaced, in order; with
// `drop`, a line holding a key without a value is left out.
std::vector<std::string> substitute(const std::vector<std::string>& commands, const std::vector<Substitution>& subs,
                                    bool drop);

// LAVA's map_kernel_uboot: the u-boot command for a kernel type (image,
// zimage, uimage) given the device's `parameters` (booti / bootz / bootm
// load addresses). `warning` is set when it falls back to bootm.
std::string map_kernel_uboot(const std::string& kernel_type, const common::data::Value& device_parameters,
                             std::string* warning = nullptr);

// What the bootloader-interrupt action does, from the device's u-boot
// parameters and constants (LAVA's order of precedence).
struct InterruptPlan {
    bool needed = true;                  // needs_interrupt
    std::string prompt;                  // interrupt_prompt (or bootloader_prompt when not needed)
    std::vector<std::string> sends;      // what to send, in order (control characters already as bytes)
    bool newline = true;                 // sendline rather than send (interrupt-newline)
};
InterruptPlan interrupt_plan(const common::data::Value& method_parameters, const common::data::Value& method_constants);

// The bootloader's error messages (constants.<method>.error-messages).
std::vector<std::string> bootloader_errors(const common::data::Value& method_constants);
// The message for matching pattern `index` of `patterns`, LAVA's words:
// "matched a bootloader error message: 'TFTP error' (3)".
std::string bootloader_error_message(const std::vector<std::string>& patterns, std::size_t index);

// The TFTP server's directory: `configured` when set, else TFTP_DIRECTORY in
// /etc/default/tftpd-hpa (`defaults_file`). "" when neither says.
std::string tftp_root(const std::string& configured, const std::string& defaults_file = "/etc/default/tftpd-hpa");

// ---- actions

// tftp-deploy for a deploy block; `test_blocks` non-empty: the overlay is
// built here and goes into the ramdisk, or with `transfer` (the boot's
// transfer_overlay) into a tar.gz that the DUT fetches after login.
std::unique_ptr<Action> build_tftp_deploy(JobContext& ctx, const common::data::Value& params,
                                          std::vector<common::data::Value> test_blocks, bool transfer = false);

// uboot-action for a boot block, and the action that the login and shell
// actions are to be added to (uboot-commands, as in LAVA).
std::pair<std::unique_ptr<Action>, Action*> build_uboot_boot(JobContext& ctx, const common::data::Value& params);

// Removes the job's directory under the TFTP root (every tftp deploy's files).
void remove_tftp_files(const JobContext& ctx);

}  // namespace lava::worker::run
