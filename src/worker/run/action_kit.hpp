#pragma once
// What lava-run's action files share (actions.cpp, uboot.cpp): reading job
// and device values, the console and host-command helpers, and factories for
// the actions that more than one deploy or boot method uses (defined in
// actions.cpp).

#include "worker/run/pipeline.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lava::worker::run {

// A value as text: a string as it is, None or undefined as "", else its str().
std::string text_of(const common::data::Value& v);
// text_of(v[key]), "" when the key is missing.
std::string field(const common::data::Value& v, const char* key);
// A string or a list of strings (None items skipped); empty when missing.
std::vector<std::string> string_list(const common::data::Value* v);
Clock::time_point until(Seconds s);
// Whether `program` is an executable in one of PATH's directories.
bool in_path(const std::string& program);

// device character_delays.<section> (boot, test), in milliseconds.
std::chrono::milliseconds character_delay(const JobContext& ctx, const char* section);
// Sends a command and waits for a shell prompt (within the connection timeout).
void shell_command(JobContext& ctx, const Action& action, const std::string& command, Clock::time_point deadline);
// The IP address the DUT reaches the worker on: dispatcher.yaml's
// dispatcher_ip, else the address of the default route's interface.
std::string dispatcher_ip(const JobContext& ctx);
// A console on `connection` whose output goes to the job log.
std::unique_ptr<Console> open_console(JobContext& ctx, std::unique_ptr<Connection> connection);
// Runs each of the device's commands.<key> on the host. A command that
// fails is an InfrastructureError "<what>: '<command>' failed (exit N)".
// `cancelable`: false for finalize's power-off, which runs on a canceled job too.
void device_command(JobContext& ctx, const char* key, const std::string& what, Clock::time_point deadline,
                    bool cancelable = true);
bool has_device_command(const JobContext& ctx, const char* key);

// Appends file `from` to file `to`; an InfrastructureError when it cannot.
void append_file(const std::string& from, const std::string& to);
// Appends the test overlay to an initramfs as a gzip cpio archive (the
// kernel unpacks concatenated archives in order) and logs it; its size.
long long append_overlay(JobContext& ctx, const std::string& initramfs);

template <typename T, typename... Args>
std::unique_ptr<Action> make(JobContext& ctx, const common::data::Value& params, Args&&... args) {
    auto action = std::make_unique<T>(std::forward<Args>(args)...);
    action->configure(ctx, params);
    return action;
}

// ---- shared actions (actions.cpp)

// download-retry + http-download / file-download of one image into dir/<label>/.
// `keep_compressed`: the file stays as downloaded (LAVA's ramdisk).
std::unique_ptr<Action> make_download(JobContext& ctx, const common::data::Value& params, const std::string& label,
                                      const common::data::Value& image, const std::string& dir,
                                      bool keep_compressed = false);
// lava-overlay: the overlay for every test block (one stage each).
std::unique_ptr<Action> make_overlay(JobContext& ctx, const common::data::Value& params,
                                     std::vector<common::data::Value> test_blocks);
// compress-overlay: the overlay as a tar.gz, for transfer_overlay.
std::unique_ptr<Action> make_compress_overlay(JobContext& ctx, const common::data::Value& params);
// connect-device: runs the device's connection command (kept when already connected).
std::unique_ptr<Action> make_connect_device(JobContext& ctx, const common::data::Value& params);
// reset-device: pdu-reboot (hard_reset_command), else power off and on.
std::unique_ptr<Action> make_reset_device(JobContext& ctx, const common::data::Value& params);

}  // namespace lava::worker::run
