#include "worker/run/actions.hpp"

#include "worker/run/action_kit.hpp"

#include "common/base/file.hpp"
#include "common/base/text.hpp"
#include "worker/run/command.hpp"
#include "worker/run/download.hpp"
#include "worker/run/http_serve.hpp"
#include "worker/run/uboot.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace lava::worker::run {

namespace data = common::data;
namespace fs = std::filesystem;

namespace {

// ------------------------------------------------------------ small helpers

// The POSIX test results directory on the DUT: constants.posix.lava_test_results_dir % job id.
std::string results_dir(const JobContext& ctx) {
    std::string pattern = "/lava-%s";
    const auto posix = ctx.constant("posix");
    if (const auto* d = posix.find("lava_test_results_dir"); d && d->is_str()) pattern = d->as_str();
    if (const auto at = pattern.find("%s"); at != std::string::npos) pattern.replace(at, 2, ctx.job_id);
    return pattern;
}

std::string test_shell(const JobContext& ctx) {
    const auto posix = ctx.constant("posix");
    if (const auto* d = posix.find("lava_test_sh_cmd"); d && d->is_str()) return d->as_str();
    return "/bin/sh";
}

// ------------------------------------------------------------ deploy

DownloadRequest request_of(const data::Value& image) {
    DownloadRequest r;
    r.url = field(image, "url");
    r.compression = field(image, "compression");
    r.archive = field(image, "archive");
    for (const char* key : {"md5sum", "sha256sum", "sha512sum"}) {
        if (const auto* v = image.find(key); v && !v->is_none()) r.checksums[key] = text_of(*v);
    }
    if (const auto* h = image.find("headers"); h && h->is_dict()) {
        for (const auto& [k, v] : h->as_dict()) r.headers[k.str()] = text_of(v);
    }
    return r;
}

class DownloadAction : public Action {
public:
    DownloadAction(std::string label, data::Value image, std::string dir, bool http, bool keep_compressed)
        : Action(http ? "http-download" : "file-download", "use " + std::string(http ? "http" : "file") + " to download the file",
                 http ? "http download" : "file download"),
          label_(std::move(label)),
          image_(std::move(image)),
          dir_(std::move(dir)),
          keep_compressed_(keep_compressed) {}
    std::string class_name() const override { return "DownloadAction"; }

    void validate(JobContext& ctx) override {
        const auto request = request_of(image_);
        // The label names the image's directory.
        if (auto problem = file_name_problem(label_); !problem.empty()) {
            ctx.errors.push_back("images." + label_ + ": the image name " + problem);
            return;
        }
        if (request.url.empty()) {
            ctx.errors.push_back("images." + label_ + ": url is required");
            return;
        }
        if (auto problem = check_download_request(request); !problem.empty()) {
            ctx.errors.push_back("images." + label_ + ": " + problem);
            return;
        }
        if (auto problem = check_url_reachable(request, std::chrono::seconds(30)); !problem.empty()) {
            ctx.errors.push_back("images." + label_ + ": " + request.url + " is not reachable: " + problem);
        }
    }

    void run(JobContext& ctx, Clock::time_point deadline) override {
        auto into = path_inside(dir_, label_);
        if (!into) fail(ErrorType::kJob, "images." + label_ + ": " + into.error().message);
        auto request = request_of(image_);
        if (keep_compressed_) {
            request.compression.clear();
            ctx.log.debug("Not decompressing " + label_ + " as can be used compressed.");
        }
        const auto got = download(request, *into, deadline, ctx.log, ctx.canceled);
        DeployedImage image{label_, got.path, field(image_, "image_arg")};
        auto it = std::find_if(ctx.images.begin(), ctx.images.end(), [&](const auto& i) { return i.label == label_; });
        if (it != ctx.images.end()) {
            *it = image;
        } else {
            ctx.images.push_back(image);
        }
        results_extra = {{data::Value("label"), data::Value(label_)}, {data::Value("size"), data::Value(static_cast<long long>(got.size))}};
        for (const auto& [key, value] : request_of(image_).checksums) results_extra.emplace_back(data::Value(key), data::Value(value));
    }

private:
    std::string label_;
    data::Value image_;
    std::string dir_;
    bool keep_compressed_;
};

// Builds the overlay once (all test actions' definitions, one stage each).
class OverlayAction : public Action {
public:
    explicit OverlayAction(std::vector<data::Value> test_blocks)
        : Action("lava-overlay", "add lava scripts during deployment for test shell use", "overlay the lava support scripts"),
          test_blocks_(std::move(test_blocks)) {}
    std::string class_name() const override { return "OverlayAction"; }

    void validate(JobContext& ctx) override {
        for (std::size_t stage = 0; stage < test_blocks_.size(); ++stage) {
            const auto* defs = test_blocks_[stage].find("definitions");
            if (!defs || !defs->is_sequence()) continue;
            for (const auto& def : defs->as_list()) {
                const auto from = field(def, "from");
                if (from != "inline" && from != "git" && from != "url") {
                    ctx.errors.push_back("test definition " + field(def, "name") + ": unsupported 'from: " + from + "'");
                }
                if (field(def, "name") == "lava") ctx.errors.push_back("The \"lava\" test definition name is reserved.");
            }
        }
    }

    void run(JobContext& ctx, Clock::time_point deadline) override {
        const std::string r = results_dir(ctx);
        ctx.overlay = std::make_unique<Overlay>(OverlayOptions{ctx.tmp_dir + "/overlay", r, test_shell(ctx), ctx.job_id});
        auto& overlay = *ctx.overlay;
        overlay.write_base();
        if (ctx.multinode) overlay.write_multinode(ctx.multinode->role(), ctx.multinode->roles());
        std::vector<std::pair<std::string, std::string>> env;
        if (const auto* e = ctx.device.find("environment")) flatten_environment("", *e, env);
        for (const char* key : {"device_info", "static_info", "storage_info"}) {
            if (const auto* info = ctx.device.find(key); info && info->is_sequence()) {
                std::string prefix = "LAVA_" + std::string(key);
                for (auto& c : prefix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
                flatten_environment(prefix, *info, env);
            }
        }
        if (const auto* e = ctx.job.find("environment")) flatten_environment("", *e, env);
        env.emplace_back("LAVA_JOB_ID", ctx.job_id);
        env.emplace_back("LAVA_DISPATCHER_IP", dispatcher_ip(ctx));
        overlay.write_environment(env);
        std::vector<std::pair<std::string, std::string>> secrets;
        if (const auto* s = ctx.job.find("secrets"); s && s->is_dict()) flatten_environment("", *s, secrets);
        if (ctx.env_dut.is_dict()) flatten_environment("", ctx.env_dut, secrets);
        overlay.write_secrets(secrets);
        ctx.log.info("Using " + r + " at stage 0");
        ctx.stages.assign(test_blocks_.size(), {});
        for (std::size_t stage = 0; stage < test_blocks_.size(); ++stage) {
            const auto* defs = test_blocks_[stage].find("definitions");
            if (!defs || !defs->is_sequence()) continue;
            int index = 0;
            for (const auto& def : defs->as_list()) {
                ctx.stages[stage].push_back(
                    overlay.add_definition(static_cast<int>(stage), index++, def, deadline, ctx.canceled, ctx.log));
            }
            overlay.finish_stage(static_cast<int>(stage));
        }
    }

private:
    std::vector<data::Value> test_blocks_;
};

bool is_initrd(const DeployedImage& image) {
    return image.image_arg.find("-initrd") != std::string::npos || image.label == "initrd" || image.label == "ramdisk";
}

// Appends the overlay to the initramfs as a second cpio archive.
class ApplyOverlayInitrd : public Action {
public:
    explicit ApplyOverlayInitrd(data::Value images)
        : Action("apply-overlay-initrd", "append the test overlay to the initramfs as a cpio archive",
                 "apply overlay to the initramfs"),
          images_(std::move(images)) {}
    std::string class_name() const override { return "ApplyOverlayInitrd"; }

    void validate(JobContext& ctx) override {
        bool found = false;
        if (images_.is_dict()) {
            for (const auto& [label, image] : images_.as_dict()) {
                found = found || is_initrd(DeployedImage{label.str(), "", field(image, "image_arg")});
            }
        }
        if (!found) {
            ctx.errors.push_back(
                "the test overlay needs an initramfs to go into: an image labelled 'initrd' or 'ramdisk' or with "
                "image_arg '-initrd {label}'; or give the boot action transfer_overlay");
        }
    }

    void run(JobContext& ctx, Clock::time_point) override {
        auto it = std::find_if(ctx.images.begin(), ctx.images.end(), is_initrd);
        if (it == ctx.images.end()) fail(ErrorType::kBug, "no initramfs to apply the overlay to");
        results_extra = {{data::Value("size"), data::Value(append_overlay(ctx, it->file))}};
    }

private:
    data::Value images_;
};

class CompressOverlay : public Action {
public:
    CompressOverlay() : Action("compress-overlay", "Create a lava overlay tarball and store alongside the job", "Compress the lava overlay files") {}
    std::string class_name() const override { return "CompressOverlay"; }
    void run(JobContext& ctx, Clock::time_point) override {
        if (!ctx.overlay) fail(ErrorType::kBug, "no overlay to compress");
        ctx.overlay_archive = ctx.tmp_dir + "/overlay-" + ctx.job_id + ".tar.gz";
        ctx.overlay->write_tar_gz(ctx.overlay_archive);
        ctx.log.info("Overlay: " + ctx.overlay_archive);
    }
};

// ------------------------------------------------------------ boot

class CallQemuAction : public Action {
public:
    explicit CallQemuAction(std::string method) : Action("execute-qemu", "call qemu to boot the image", "execute qemu to boot the image"), method_(std::move(method)) {}
    std::string class_name() const override { return "CallQemuAction"; }

    void validate(JobContext& ctx) override {
        const auto* context = ctx.job.find("context");
        const auto* arch = context ? context->find("arch") : nullptr;
        if (!arch) {
            ctx.errors.push_back("Missing 'arch' in job context");
        } else if (const auto* archs = ctx.device.find("available_architectures"); archs && archs->is_sequence()) {
            bool known = false;
            for (const auto& a : archs->as_list()) known = known || a == *arch;
            if (!known) ctx.errors.push_back("Non existing architecture '" + text_of(*arch) + "' in context arch");
        }
        const auto cmd = qemu_command(ctx.device, method_, {});
        if (!cmd.error.empty()) {
            ctx.errors.push_back(cmd.error);
        } else if (!cmd.argv.empty() && cmd.argv[0].find('/') == std::string::npos) {
            if (!in_path(cmd.argv[0])) ctx.errors.push_back("QEMU binary " + cmd.argv[0] + " not found");
        }
    }

    void run(JobContext& ctx, Clock::time_point) override {
        ctx.console.reset();  // a retry starts QEMU again
        ctx.connection.clear();
        const auto cmd = qemu_command(ctx.device, method_, ctx.images);
        if (!cmd.error.empty()) fail(ErrorType::kConfiguration, cmd.error);
        std::string line;
        for (const auto& a : cmd.argv) line += (line.empty() ? "" : " ") + a;
        ctx.log.info("Boot command: " + line);
        auto connection = Connection::spawn(cmd.argv);
        if (!connection) fail(ErrorType::kInfrastructure, "cannot start QEMU: " + connection.error().message);
        ctx.console = open_console(ctx, std::move(*connection));
        ctx.log.debug("started a shell command");
    }

private:
    std::string method_;
};

// LAVA's auto-login-action: kernel start message, login, prompts.
class AutoLoginAction : public Action {
public:
    explicit AutoLoginAction(std::string method)
        : Action("auto-login-action", "automatically login after boot using job parameters and checking for messages.",
                 "Auto-login after boot with support for kernel messages."),
          method_(std::move(method)) {}
    std::string class_name() const override { return "AutoLoginAction"; }

    void validate(JobContext& ctx) override {
        const auto prompts = string_list(parameters_.find("prompts"));
        if (prompts.empty()) ctx.errors.push_back("'prompts' is mandatory for AutoLoginAction");
        for (const auto& p : prompts) {
            if (p.empty()) ctx.errors.push_back("Items of 'prompts' can't be empty");
        }
        if (const auto* login = parameters_.find("auto_login")) {
            if (!login->is_dict()) {
                ctx.errors.push_back("'auto_login' should be a dictionary");
            } else {
                if (field(*login, "login_prompt").empty()) ctx.errors.push_back("'login_prompt' is mandatory for auto_login");
                if (!login->find("username")) ctx.errors.push_back("'username' is mandatory for auto_login");
                if (login->find("password_prompt") && !login->find("password")) {
                    ctx.errors.push_back("'password' is mandatory if 'password_prompt' is used in auto_login");
                }
            }
        }
    }

    void run(JobContext& ctx, Clock::time_point deadline) override {
        if (!ctx.console) fail(ErrorType::kBug, "auto-login-action: no connection");
        auto& console = *ctx.console;
        ctx.prompts = string_list(parameters_.find("prompts"));
        std::string kernel_message = text_of(ctx.constant("kernel-start-message"));
        if (const auto* p = parameters_.find("parameters"); p && p->find("kernel-start-message")) {
            kernel_message = field(*p, "kernel-start-message");
        }
        const auto errors = bootloader_errors(ctx.constant(method_));
        if (!kernel_message.empty()) {
            std::vector<std::string> patterns{kernel_message};
            patterns.insert(patterns.end(), errors.begin(), errors.end());
            ctx.log.debug("Waiting for the kernel to start: '" + kernel_message + "'");
            const auto m = ctx.check(console.expect(patterns, deadline), "waiting for the kernel start message");
            if (m.index != 0) fail(ErrorType::kInfrastructure, "matched a bootloader error message: '" + patterns[m.index] + "'");
        }
        static const std::vector<std::string> kKernelErrors = {"Kernel panic - not syncing", "Login incorrect"};
        const auto expect_checked = [&](std::vector<std::string> wanted, const std::string& what) {
            const std::size_t count = wanted.size();
            wanted.insert(wanted.end(), kKernelErrors.begin(), kKernelErrors.end());
            const auto m = ctx.check(console.expect(wanted, deadline), what);
            if (m.index >= count) {
                fail(m.index == count ? ErrorType::kInfrastructure : ErrorType::kJob,
                     std::string(m.index == count ? "Kernel panic detected" : "Login incorrect") + " while " + what);
            }
            return m;
        };
        const auto delay = character_delay(ctx, "boot");
        if (const auto* login = parameters_.find("auto_login"); login && login->is_dict()) {
            ctx.log.debug("Waiting for the login prompt");
            expect_checked({field(*login, "login_prompt")}, "waiting for the login prompt");
            ctx.check(console.sendline(field(*login, "username"), delay), name_);
            if (login->find("password_prompt")) {
                expect_checked({field(*login, "password_prompt")}, "waiting for the password prompt");
                ctx.check(console.sendline(field(*login, "password"), delay), name_);
            }
        }
        std::string shown;
        for (const auto& p : ctx.prompts) shown += (shown.empty() ? "'" : ", '") + p + "'";
        ctx.log.info("Waiting for prompt(s) " + shown);
        expect_checked(ctx.prompts, "waiting for the prompt");
        if (const auto* login = parameters_.find("auto_login"); login && login->is_dict()) {
            for (const auto& command : string_list(login->find("login_commands"))) {
                ctx.check(console.sendline(command, delay), name_);
                expect_checked(ctx.prompts, "running login command '" + command + "'");
            }
        }
    }

private:
    std::string method_;
};

class ExpectShellSession : public Action {
public:
    ExpectShellSession() : Action("expect-shell-connection", "Wait for a shell", "Expect a shell prompt") {}
    std::string class_name() const override { return "ExpectShellSession"; }
    void run(JobContext& ctx, Clock::time_point deadline) override {
        if (ctx.prompts.empty()) ctx.prompts = string_list(parameters_.find("prompts"));
        shell_command(ctx, *this, "", deadline);
    }
};

class ExportDeviceEnvironment : public Action {
public:
    ExportDeviceEnvironment() : Action("export-device-env", "Exports environment variables to the device", "Exports environment variables action") {}
    std::string class_name() const override { return "ExportDeviceEnvironment"; }
    void run(JobContext& ctx, Clock::time_point deadline) override {
        std::vector<std::pair<std::string, std::string>> env;
        if (ctx.env_dut.is_dict()) flatten_environment("", ctx.env_dut, env);
        for (const auto& [k, v] : env) shell_command(ctx, *this, "export " + k + "=" + shell_quote(v), deadline);
    }
};

// The DUT fetches the overlay from lava-run over HTTP and unpacks it.
class OverlayUnpack : public Action {
public:
    OverlayUnpack() : Action("overlay-unpack", "transfer and unpack overlay to persistent rootfs after login", "transfer and unpack overlay") {}
    std::string class_name() const override { return "OverlayUnpack"; }

    void validate(JobContext& ctx) override {
        const auto* transfer = parameters_.find("transfer_overlay");
        if (!transfer || !transfer->is_dict()) {
            ctx.errors.push_back("Unable to identify transfer commands for overlay.");
            return;
        }
        if (field(*transfer, "download_command").empty()) ctx.errors.push_back("Unable to identify download command for overlay.");
        if (field(*transfer, "unpack_command").empty()) ctx.errors.push_back("Unable to identify unpack command for overlay.");
        const auto method = field(*transfer, "transfer_method");
        if (!method.empty() && method != "http") ctx.errors.push_back("transfer_overlay: transfer_method '" + method + "' is not supported (http)");
    }

    void run(JobContext& ctx, Clock::time_point deadline) override {
        if (ctx.overlay_archive.empty()) fail(ErrorType::kJob, "No overlay file identified for the transfer.");
        const auto& transfer = *parameters_.find("transfer_overlay");
        const std::string file = fs::path(ctx.overlay_archive).filename();
        std::random_device random;
        const std::string secret = std::to_string(random()) + std::to_string(random());
        ctx.http = std::make_unique<LocalHttpServer>(ctx.overlay_archive, "/" + secret + "/" + file);
        const std::string url = "http://" + dispatcher_ip(ctx) + ":" + std::to_string(ctx.http->port()) + "/" + secret + "/" + file;
        shell_command(ctx, *this, "rm -f " + file, deadline);
        shell_command(ctx, *this, field(transfer, "download_command") + " " + url, deadline);
        shell_command(ctx, *this, field(transfer, "unpack_command") + " " + file, deadline);
        ctx.http.reset();
    }
};

// LAVA's minimal boot: connect to the console, power on, then log in.
class ConnectDevice : public Action {
public:
    ConnectDevice() : Action("connect-device", "use the configured command to connect serial to the device", "run connection command") {}
    std::string class_name() const override { return "ConnectDevice"; }

    static std::string command(const JobContext& ctx, const data::Value& params) {
        const auto* commands = ctx.device.find("commands");
        if (!commands) return {};
        if (const auto* connections = commands->find("connections"); connections && connections->is_dict()) {
            const std::string wanted = field(params, "connection");
            for (const auto& [name, conn] : connections->as_dict()) {
                if (wanted.empty() || name.str() == wanted) return field(conn, "connect");
            }
        }
        return field(*commands, "connect");
    }
    void validate(JobContext& ctx) override {
        if (command(ctx, parameters_).empty()) ctx.errors.push_back("Unable to connect to the device: no commands.connect in the device configuration");
    }
    void run(JobContext& ctx, Clock::time_point) override {
        const std::string cmd = command(ctx, parameters_);
        if (ctx.console && !ctx.console->closed() && ctx.connection == cmd) {
            ctx.log.debug("Already connected");
            return;
        }
        if (ctx.console) ctx.log.warning("Dead connection, reconnecting");
        ctx.console.reset();
        ctx.log.info("[common] connect-device Connecting to device using '" + cmd + "'");
        auto connection = Connection::spawn(split_command(cmd));
        if (!connection) fail(ErrorType::kInfrastructure, "cannot run the connection command '" + cmd + "': " + connection.error().message);
        ctx.console = open_console(ctx, std::move(*connection));
        ctx.connection = cmd;
    }
};

// LAVA's pdu-reboot: the device's hard_reset_command.
class PDUReboot : public Action {
public:
    PDUReboot() : Action("pdu-reboot", "issue commands to a PDU to power cycle a device", "hard reboot using PDU") {}
    std::string class_name() const override { return "PDUReboot"; }
    void run(JobContext& ctx, Clock::time_point deadline) override {
        device_command(ctx, "hard_reset", "Unable to reboot", deadline);
        results_extra = {{data::Value("status"), data::Value("success")}};
    }
};

// LAVA's send-reboot-commands: the job's `soft_reboot` (boot block) or the
// device's soft_reboot_command typed on the console, then the shutdown message.
class SendRebootCommands : public Action {
public:
    SendRebootCommands()
        : Action("send-reboot-commands", "Issue a reboot command on the device", "Issue a reboot command on the device") {}
    std::string class_name() const override { return "SendRebootCommands"; }
    static std::vector<std::string> commands(const JobContext& ctx, const data::Value& params) {
        if (const auto* job = params.find("soft_reboot")) return string_list(job);
        const auto* device = ctx.device.find("commands");
        return device ? string_list(device->find("soft_reboot")) : std::vector<std::string>{};
    }
    void run(JobContext& ctx, Clock::time_point deadline) override {
        if (!ctx.console) fail(ErrorType::kBug, name_ + ": no connection to the device");
        std::string message = text_of(ctx.constant("shutdown-message"));
        if (const auto* p = parameters_.find("parameters"); p && p->find("shutdown-message")) {
            message = field(*p, "shutdown-message");
        }
        const auto sent = commands(ctx, parameters_);
        for (const auto& command : sent) ctx.check(ctx.console->sendline(command), name_);
        auto m = ctx.console->expect({message}, std::min(deadline, until(connection_timeout_)));
        if (!m && m.error().code == console_errc::kTimeout) fail(ErrorType::kJob, "Soft reboot failed.");
        ctx.check(std::move(m), name_ + ": waiting for '" + message + "'");
        data::List list;
        for (const auto& c : sent) list.emplace_back(c);
        results_extra = {{data::Value("commands"), data::Value(std::move(list))}};
    }
};

// reset-device: pdu-reboot when the device has a hard reset command, else
// send-reboot-commands when the job or the device gives soft reboot
// commands (LAVA also falls back to `reboot`), else (lava-cpp) power-off
// then power-on.
class ResetDevice : public Action {
public:
    ResetDevice() : Action("reset-device", "reboot or power-cycle the device", "reboot the device") {}
    std::string class_name() const override { return "ResetDevice"; }
    void run(JobContext& ctx, Clock::time_point deadline) override {
        if (!children_.empty()) return Action::run(ctx, deadline);
        device_command(ctx, "power_off", "Unable to power-off", deadline);
        device_command(ctx, "power_on", "Unable to power-on", deadline);
    }
};

// ------------------------------------------------------------ test

class TestShellAction : public Action {
public:
    // A MultiNode job's is LAVA's multinode-test (the same runner, plus the group's API).
    TestShellAction(int stage, bool multinode)
        : Action(multinode ? "multinode-test" : "lava-test-shell", "Executing lava-test-runner",
                 multinode ? "Multinode Lava Test Shell" : "Lava Test Shell"),
          stage_(stage) {}
    std::string class_name() const override { return "TestShellAction"; }

    void run(JobContext& ctx, Clock::time_point deadline) override {
        if (!ctx.console) fail(ErrorType::kJob, "lava-test-shell: no shell connection (boot the device first)");
        if (static_cast<std::size_t>(stage_) >= ctx.stages.size()) fail(ErrorType::kBug, "lava-test-shell: no overlay stage " + std::to_string(stage_));
        const std::string r = results_dir(ctx);
        shell_command(ctx, *this, "export SHELL=" + test_shell(ctx), deadline);
        shell_command(ctx, *this, ". " + r + "/environment", deadline);
        const auto ns = parameters_.find("namespace");
        TestShellSignals signals(ctx.log, ns && ns->is_str() ? ns->as_str() : "", ctx.stages[stage_]);
        const std::string runner = r + "/bin/lava-test-runner " + r + "/" + std::to_string(stage_);
        ctx.check(ctx.console->sendline(runner, character_delay(ctx, "test")), name_);
        for (;;) {
            std::vector<std::string> patterns = {"<LAVA_TEST_RUNNER EXIT>", kSignalPattern, "<LAVA_TEST_RUNNER INSTALL_FAIL>",
                                                 ctx.multinode ? kMultinodeSignalPattern : "(?!)"};
            const std::string pattern = signals.active_pattern();
            // Matched on whole lines only: a greedy group must not stop at
            // whatever part of the line has arrived so far.
            if (!pattern.empty()) patterns.push_back("(?m)(?:" + pattern + ")(?=[^\\n]*\\n)");
            const auto m = ctx.check(ctx.console->expect(patterns, deadline), name_);
            if (m.index == 0) break;
            if (m.index == 1) {
                signals.handle(m.groups.at(0), m.groups.at(1));
            } else if (m.index == 2) {
                ctx.log.error("lava-test-runner: an install.sh failed; its test did not run");
            } else if (m.index == 3) {
                multinode_signal(ctx, signals, m.groups.at(0), m.groups.at(1));
            } else {
                signals.handle_pattern(m.named);
            }
        }
        ctx.log.info("lava-test-runner finished");
        ctx.check(ctx.console->expect(ctx.prompts, std::min(deadline, until(connection_timeout()))), name_ + ": waiting for the prompt");
    }

private:
    // A lava-send/-wait/-wait-all/-sync from the DUT: the coordinator's
    // answer typed back, and a multinode-<api>-<id> test case (fail, then
    // MultinodeTimeout, when the answer did not come in time).
    void multinode_signal(JobContext& ctx, TestShellSignals& signals, const std::string& api, const std::string& params) {
        ctx.log.debug("Received Multi_Node API <LAVA_" + api + ">");
        const SignalReply reply = ctx.multinode->signal(api, params);
        if (reply.timeout) {
            signals.handle("TESTCASE", "TEST_CASE_ID=" + reply.test_case + " RESULT=fail");
            throw *reply.timeout;
        }
        if (!reply.line.empty()) {
            const auto delay = character_delay(ctx, "test");
            ctx.check(ctx.console->sendline(reply.line, delay), name_);
            ctx.check(ctx.console->sendline("", delay), name_);
        }
        signals.handle("TESTCASE", "TEST_CASE_ID=" + reply.test_case + " RESULT=pass");
    }

    int stage_;
};

class InteractiveAction : public Action {
public:
    InteractiveAction() : Action("lava-test-interactive", "Executing lava-test-interactive", "Lava Test Interactive") {}
    std::string class_name() const override { return "InteractiveAction"; }

    void validate(JobContext& ctx) override {
        const auto* tests = parameters_.find("interactive");
        if (!tests || !tests->is_sequence()) {
            ctx.errors.push_back("interactive: a list of tests is required");
            return;
        }
        for (const auto& test : tests->as_list()) {
            if (field(test, "name").empty()) ctx.errors.push_back("interactive: every test needs a name");
            if (string_list(test.find("prompts")).empty()) ctx.errors.push_back("interactive " + field(test, "name") + ": prompts are required");
        }
    }

    void run(JobContext& ctx, Clock::time_point deadline) override {
        if (!ctx.console) fail(ErrorType::kJob, "lava-test-interactive: no connection (boot the device first)");
        for (const auto& test : parameters_.find("interactive")->as_list()) {
            const std::string suite = field(test, "name");
            const auto prompts = string_list(test.find("prompts"));
            const auto* script = test.find("script");
            if (!script || !script->is_sequence()) continue;
            for (const auto& step : script->as_list()) run_step(ctx, suite, prompts, step, deadline);
        }
    }

private:
    static ErrorType exception_type(const std::string& name) {
        if (name == "InfrastructureError") return ErrorType::kInfrastructure;
        if (name == "JobError") return ErrorType::kJob;
        return ErrorType::kTest;
    }

    void run_step(JobContext& ctx, const std::string& suite, const std::vector<std::string>& prompts, const data::Value& step,
                  Clock::time_point deadline) {
        const std::string case_name = field(step, "name");
        if (const auto* command = step.find("command"); command && !command->is_none()) {
            ctx.check(ctx.console->sendline(text_of(*command), character_delay(ctx, "test")), name_);
        } else {
            ctx.check(ctx.console->sendline("", character_delay(ctx, "test")), name_);
        }
        std::vector<std::string> patterns;
        std::vector<const data::Value*> failures;
        std::size_t successes = 0;
        if (const auto* s = step.find("successes"); s && s->is_sequence()) {
            for (const auto& item : s->as_list()) patterns.push_back(field(item, "message"));
            successes = patterns.size();
        }
        if (const auto* f = step.find("failures"); f && f->is_sequence()) {
            for (const auto& item : f->as_list()) {
                patterns.push_back(field(item, "message"));
                failures.push_back(&item);
            }
        }
        const std::size_t first_prompt = patterns.size();
        patterns.insert(patterns.end(), prompts.begin(), prompts.end());
        std::string result;
        for (;;) {
            const auto m = ctx.check(ctx.console->expect(patterns, deadline), name_ + " " + suite + "/" + case_name);
            if (m.index < successes) {
                if (result.empty()) result = "pass";
                continue;
            }
            if (m.index < first_prompt) {
                const auto& failure = *failures[m.index - successes];
                const std::string error = field(failure, "error");
                if (const auto exception = field(failure, "exception"); !exception.empty()) {
                    fail(exception_type(exception), error.empty() ? "interactive failure: " + patterns[m.index] : error);
                }
                result = "fail";
                continue;
            }
            break;  // the prompt: the command is done
        }
        if (case_name.empty()) return;
        if (result.empty()) result = successes > 0 ? "fail" : "pass";
        data::Dict msg{{data::Value("definition"), data::Value(suite)}, {data::Value("case"), data::Value(case_name)},
                       {data::Value("result"), data::Value(result)}};
        ctx.log.results(data::Value(std::move(msg)));
    }
};

// ------------------------------------------------------------ command

class UserCommandAction : public Action {
public:
    UserCommandAction() : Action("user-command", "execute one of the commands listed by the admin", "execute commands") {}
    std::string class_name() const override { return "CommandAction"; }

    const data::Value* entry(const JobContext& ctx) const {
        const auto* commands = ctx.device.find("commands");
        const auto* users = commands ? commands->find("users") : nullptr;
        return users ? users->find(field(parameters_, "name")) : nullptr;
    }
    void validate(JobContext& ctx) override {
        if (!entry(ctx)) ctx.errors.push_back("Unknown user command '" + field(parameters_, "name") + "'");
    }
    void run(JobContext& ctx, Clock::time_point deadline) override {
        const auto* e = entry(ctx);
        const auto cmd = field(*e, "do");
        const auto r = run_command({"/bin/sh", "-c", cmd}, "", deadline, ctx.canceled, ctx.log);
        if (r.exit_code != 0) fail(ErrorType::kInfrastructure, "user command '" + cmd + "' failed (exit " + std::to_string(r.exit_code) + ")");
        ran_ = true;
    }
    void cleanup(JobContext& ctx) override {
        if (!ran_) return;
        const auto undo = field(*entry(ctx), "undo");
        if (undo.empty()) return;
        try {
            run_command({"/bin/sh", "-c", undo}, "", until(timeout_), ctx.canceled, ctx.log);
        } catch (const JobFailure& f) {
            ctx.log.error(std::string("undo of user command failed: ") + f.what());
        }
    }

private:
    bool ran_ = false;
};

// ------------------------------------------------------------ finalize

class PowerOff : public Action {
public:
    PowerOff() : Action("power-off", "discontinue power to device", "send power_off command") {}
    std::string class_name() const override { return "PowerOffAction"; }
    void run(JobContext& ctx, Clock::time_point deadline) override {
        if (ctx.console) {
            ctx.console.reset();  // kills QEMU or the connection command with its process group
            ctx.connection.clear();
            ctx.log.debug("Closed the connection to the device");
        }
        ctx.http.reset();
        device_command(ctx, "power_off", "Unable to power-off", deadline, false);
    }
    bool runs_when_canceled() const override { return true; }
};

class ReadFeedback : public Action {
public:
    ReadFeedback() : Action("read-feedback", "Check for messages on all other namespaces", "Read from other namespaces") {}
    std::string class_name() const override { return "ReadFeedback"; }
    void run(JobContext&, Clock::time_point) override {}
    bool runs_when_canceled() const override { return true; }
};

class FinalizeAction : public Action {
public:
    FinalizeAction() : Action("finalize", "finish the process and cleanup", "finalize the job") {}
    std::string class_name() const override { return "FinalizeAction"; }
    bool runs_when_canceled() const override { return true; }
};

}  // namespace

// ------------------------------------------------------------ shared actions

std::unique_ptr<Action> make_download(JobContext& ctx, const data::Value& params, const std::string& label,
                                      const data::Value& image, const std::string& dir, bool keep_compressed) {
    auto retry = make<RetryAction>(ctx, params, "download-retry", "download with retry", "download-retry");
    const std::string url = field(image, "url");
    retry->add(make<DownloadAction>(ctx, params, label, image, dir, url.rfind("file://", 0) != 0, keep_compressed));
    return retry;
}

std::unique_ptr<Action> make_overlay(JobContext& ctx, const data::Value& params, std::vector<data::Value> test_blocks) {
    return make<OverlayAction>(ctx, params, std::move(test_blocks));
}

std::unique_ptr<Action> make_compress_overlay(JobContext& ctx, const data::Value& params) {
    return make<CompressOverlay>(ctx, params);
}

std::unique_ptr<Action> make_connect_device(JobContext& ctx, const data::Value& params) {
    return make<ConnectDevice>(ctx, params);
}

std::unique_ptr<Action> make_reset_device(JobContext& ctx, const data::Value& params) {
    auto reset = make<ResetDevice>(ctx, params);
    if (has_device_command(ctx, "hard_reset")) {
        reset->add(make<PDUReboot>(ctx, params));
    } else if (!SendRebootCommands::commands(ctx, params).empty()) {
        reset->add(make<SendRebootCommands>(ctx, params));
    }
    return reset;
}

// ------------------------------------------------------------ builder

std::vector<std::unique_ptr<Action>> build_pipeline(JobContext& ctx) {
    std::vector<std::unique_ptr<Action>> top;
    const auto* actions = ctx.job.find("actions");
    if (!actions || !actions->is_sequence()) {
        ctx.errors.push_back("the job has no actions");
        return top;
    }
    const auto& list = actions->as_list();
    // Test blocks with definitions, in order: one overlay stage each.
    std::vector<data::Value> test_blocks;
    std::vector<int> stage_of(list.size(), -1);
    for (std::size_t i = 0; i < list.size(); ++i) {
        const auto* test = list[i].find("test");
        if (test && test->find("definitions")) {
            stage_of[i] = static_cast<int>(test_blocks.size());
            test_blocks.push_back(*test);
        }
    }
    bool overlay_built = false;
    for (std::size_t i = 0; i < list.size(); ++i) {
        const auto& item = list[i];
        if (!item.is_dict() || item.as_dict().size() != 1) {
            ctx.errors.push_back("actions[" + std::to_string(i) + "]: one of deploy, boot, test or command");
            continue;
        }
        const std::string kind = item.as_dict().front().first.str();
        const data::Value& params = item.as_dict().front().second;
        if (kind == "deploy") {
            const std::string to = field(params, "to");
            const bool tests_follow = std::any_of(stage_of.begin() + static_cast<long>(i), stage_of.end(), [](int s) { return s >= 0; });
            const data::Value* next_boot = nullptr;
            for (std::size_t j = i + 1; j < list.size() && !next_boot; ++j) next_boot = list[j].find("boot");
            const bool transfer = next_boot && next_boot->find("transfer_overlay");
            if (to == "tftp") {
                // The overlay goes with the first deploy that tests follow: into
                // its ramdisk, or to be fetched by the DUT (transfer_overlay).
                const bool overlay_here = tests_follow && !overlay_built && (transfer || params.find("ramdisk"));
                overlay_built = overlay_built || overlay_here;
                top.push_back(build_tftp_deploy(ctx, params, overlay_here ? test_blocks : std::vector<data::Value>{}, transfer));
                continue;
            }
            if (to != "tmpfs" && to != "downloads") {
                ctx.errors.push_back("actions[" + std::to_string(i) + "].deploy: 'to: " + to + "' is not supported by lava-run yet (tmpfs, downloads, tftp)");
                continue;
            }
            const auto* images = params.find("images");
            if (!images || !images->is_dict()) {
                ctx.errors.push_back("actions[" + std::to_string(i) + "].deploy: images is required");
                continue;
            }
            auto deploy = to == "tmpfs" ? make<Action>(ctx, params, "deployimages", "deploy images", "deploy images")
                                        : make<Action>(ctx, params, "downloads", "download the files", "download the files");
            const std::string dir = ctx.tmp_dir + "/deploy-" + std::to_string(i + 1);
            for (const auto& [label, image] : images->as_dict()) deploy->add(make_download(ctx, params, label.str(), image, dir));
            // The overlay goes with the first deploy that a test follows.
            if (to == "tmpfs" && tests_follow && !overlay_built) {
                overlay_built = true;
                deploy->add(make_overlay(ctx, params, test_blocks));
                if (transfer) {
                    deploy->add(make<CompressOverlay>(ctx, params));
                } else {
                    deploy->add(make<ApplyOverlayInitrd>(ctx, params, *images));
                }
            }
            top.push_back(std::move(deploy));
        } else if (kind == "boot") {
            const std::string method = field(params, "method");
            const auto* device_methods = ctx.device.find("actions");
            device_methods = device_methods ? device_methods->find("boot") : nullptr;
            device_methods = device_methods ? device_methods->find("methods") : nullptr;
            if (!device_methods || !device_methods->find(method)) {
                ctx.errors.push_back("actions[" + std::to_string(i) + "].boot: the device has no boot method '" + method + "'");
                continue;
            }
            const bool test_follows = std::any_of(list.begin() + static_cast<long>(i) + 1, list.end(), [](const data::Value& a) { return a.find("test") != nullptr; });
            const bool has_prompts = params.find("prompts") != nullptr;
            std::unique_ptr<Action> boot;
            Action* login_parent = nullptr;  // where the login and shell actions go (else `boot`)
            if (method == "qemu") {
                boot = make<RetryAction>(ctx, params, "boot-image-retry", "boot image with retry", "boot with retry");
                auto qemu = make<RetryAction>(ctx, params, "boot-qemu-image", "boot image using QEMU command line", "boot QEMU image");
                qemu->add(make<CallQemuAction>(ctx, params, method));
                boot->add(std::move(qemu));
            } else if (method == "minimal") {
                boot = make<RetryAction>(ctx, params, "minimal-boot", "connect and reset device", "connect and reset device");
                boot->add(make_connect_device(ctx, params));
                boot->add(make_reset_device(ctx, params));
            } else if (method == "u-boot") {
                std::tie(boot, login_parent) = build_uboot_boot(ctx, params);
            } else {
                ctx.errors.push_back("actions[" + std::to_string(i) + "].boot: 'method: " + method + "' is not supported by lava-run yet (qemu, minimal, u-boot)");
                continue;
            }
            if (test_follows && !has_prompts) ctx.errors.push_back("Unable to identify boot prompts from job definition.");
            // No deploy built the overlay (e.g. a board booted with `minimal`):
            // the boot builds it for transfer_overlay.
            if (!overlay_built && params.find("transfer_overlay") &&
                std::any_of(stage_of.begin() + static_cast<long>(i), stage_of.end(), [](int s) { return s >= 0; })) {
                overlay_built = true;
                auto& children = boot->children();
                children.insert(children.begin(), make<CompressOverlay>(ctx, params));
                children.insert(children.begin(), make<OverlayAction>(ctx, params, test_blocks));
            }
            if (has_prompts) {
                Action& parent = login_parent ? *login_parent : *boot;
                parent.add(make<AutoLoginAction>(ctx, params, method));
                if (test_follows) {
                    parent.add(make<ExpectShellSession>(ctx, params));
                    if (params.find("transfer_overlay")) parent.add(make<OverlayUnpack>(ctx, params));
                    parent.add(make<ExportDeviceEnvironment>(ctx, params));
                }
            }
            top.push_back(std::move(boot));
        } else if (kind == "test") {
            if (params.find("definitions")) {
                auto retry = make<RetryAction>(ctx, params, "lava-test-retry", "Retry support for Lava Test Shell", "Retry support for Lava Test Shell");
                retry->add(make<TestShellAction>(ctx, params, stage_of[i], ctx.multinode != nullptr));
                top.push_back(std::move(retry));
            } else if (params.find("interactive")) {
                auto retry = make<RetryAction>(ctx, params, "lava-test-interactive-retry", "Retry wrapper for lava-test-interactive", "Retry support for Lava Test Interactive");
                retry->add(make<InteractiveAction>(ctx, params));
                top.push_back(std::move(retry));
            } else {
                ctx.errors.push_back("actions[" + std::to_string(i) + "].test: only definitions and interactive tests are supported by lava-run yet");
            }
        } else if (kind == "command") {
            top.push_back(make<UserCommandAction>(ctx, params));
        } else {
            ctx.errors.push_back("actions[" + std::to_string(i) + "]: unknown action type '" + kind + "'");
        }
    }
    if (!overlay_built && std::any_of(stage_of.begin(), stage_of.end(), [](int s) { return s >= 0; })) {
        ctx.errors.push_back("test definitions need a deploy (to: tmpfs, or to: tftp with a ramdisk) or a boot with transfer_overlay before them to carry the overlay");
    }
    for (std::size_t i = 0; i < top.size(); ++i) top[i]->assign_levels(std::to_string(i + 1));
    return top;
}

std::unique_ptr<Action> build_finalize(JobContext& ctx) {
    auto finalize = make<FinalizeAction>(ctx, data::Value());
    finalize->add(make<PowerOff>(ctx, data::Value()));
    finalize->add(make<ReadFeedback>(ctx, data::Value()));
    return finalize;
}

}  // namespace lava::worker::run
