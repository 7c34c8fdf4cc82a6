#include "worker/run/uboot.hpp"

#include "common/base/file.hpp"
#include "common/base/text.hpp"
#include "worker/run/action_kit.hpp"
#include "worker/run/command.hpp"
#include "worker/run/overlay.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace lava::worker::run {

namespace data = common::data;
namespace fs = std::filesystem;

// ------------------------------------------------------------ pure parts

std::vector<std::string> substitute(const std::vector<std::string>& commands, const std::vector<Substitution>& subs,
                                    bool drop) {
    std::vector<std::string> out;
    for (std::string line : commands) {
        bool dropped = false;
        for (const auto& [key, value] : subs) {
            if (value && !value->empty()) {
                for (std::size_t at = line.find(key); at != std::string::npos; at = line.find(key, at + value->size())) {
                    line.replace(at, key.size(), *value);
                }
            } else if (drop && line.find(key) != std::string::npos) {
                dropped = true;
                break;
            }
        }
        if (!dropped) out.push_back(std::move(line));
    }
    return out;
}

std::string map_kernel_uboot(const std::string& kernel_type, const data::Value& device_parameters, std::string* warning) {
    const auto has = [&](const char* key) { return device_parameters.is_dict() && device_parameters.find(key); };
    if (kernel_type == "zimage") {
        if (has("bootz")) return "bootz";
        if (warning) *warning = "No bootz parameters available, falling back to bootm and converting zImage";
    } else if (kernel_type == "image") {
        if (has("booti")) return "booti";
        if (warning) *warning = "No booti parameters available, falling back to bootm and converting zImage";
    }
    return "bootm";
}

InterruptPlan interrupt_plan(const data::Value& method_parameters, const data::Value& method_constants) {
    InterruptPlan plan;
    // The method's parameter when the device sets it, else the method's constant.
    const auto setting = [&](const char* parameter, const char* constant) {
        const auto* v = method_parameters.find(parameter);
        return v ? v : method_constants.find(constant);
    };
    if (const auto* v = method_parameters.find("needs_interrupt"); v && !v->is_none()) plan.needed = v->truthy();
    if (!plan.needed) {
        plan.prompt = field(method_parameters, "bootloader_prompt");
        return plan;
    }
    if (const auto* prompt = setting("interrupt_prompt", "interrupt-prompt")) plan.prompt = text_of(*prompt);
    if (const auto* v = method_constants.find("interrupt-newline"); v && !v->is_none()) plan.newline = v->truthy();
    const auto control_list = string_list(setting("interrupt_ctrl_list", "interrupt_ctrl_list"));
    if (!control_list.empty()) {
        // pexpect's sendcontrol: the letter's control code.
        for (const auto& c : control_list) {
            if (!c.empty()) plan.sends.emplace_back(1, static_cast<char>(std::tolower(static_cast<unsigned char>(c[0])) & 0x1f));
        }
        plan.newline = false;
        return plan;
    }
    const auto* ch = setting("interrupt_char", "interrupt-character");
    plan.sends.push_back(ch ? text_of(*ch) : std::string());
    return plan;
}

std::vector<std::string> bootloader_errors(const data::Value& method_constants) {
    return string_list(method_constants.find("error-messages"));
}

std::string bootloader_error_message(const std::vector<std::string>& patterns, std::size_t index) {
    return "matched a bootloader error message: '" + (index < patterns.size() ? patterns[index] : std::string()) + "' (" +
           std::to_string(index) + ")";
}

std::string tftp_root(const std::string& configured, const std::string& defaults_file) {
    if (!configured.empty()) return configured;
    const auto text = read_file(defaults_file);
    if (!text) return {};
    std::string dir;
    for (const auto& line : split(*text, '\n')) {
        auto l = std::string(trim(line));
        if (l.rfind("TFTP_DIRECTORY=", 0) != 0) continue;
        dir = std::string(trim(l.substr(15)));
        if (dir.size() >= 2 && (dir.front() == '"' || dir.front() == '\'') && dir.back() == dir.front()) {
            dir = dir.substr(1, dir.size() - 2);
        }
    }
    return dir;
}

namespace {

// ------------------------------------------------------------ helpers

constexpr std::uint64_t kTftpSizeLimit = 4ULL * 1024 * 1024 * 1024;  // LAVA's TFTP_SIZE_LIMIT
constexpr std::size_t kUbootHeaderLength = 64;                       // a legacy uImage header

// The keys a tftp deploy downloads, in LAVA's order.
const std::vector<std::string>& tftp_keys() {
    static const std::vector<std::string> keys = {"ramdisk", "kernel", "dtb", "nfsrootfs", "modules", "preseed", "tee"};
    return keys;
}

const data::Value& at(const data::Value& v, std::initializer_list<const char*> path) {
    static const data::Value kNone;
    const data::Value* cur = &v;
    for (const char* key : path) {
        cur = cur->find(key);
        if (!cur) return kNone;
    }
    return *cur;
}

const data::Value& deploy_parameters(const JobContext& ctx) { return at(ctx.device, {"actions", "deploy", "parameters"}); }
const data::Value& uboot_parameters(const JobContext& ctx) {
    return at(ctx.device, {"actions", "boot", "methods", "u-boot", "parameters"});
}

// The deploy's kernel.type, lower case ("" when not given).
std::string kernel_type(const data::Value& deploy) {
    std::string type = field(at(deploy, {"kernel"}), "type");
    for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return type;
}

const DeployedImage* image_of(const JobContext& ctx, const std::string& label) {
    for (const auto& image : ctx.images) {
        if (image.label == label) return &image;
    }
    return nullptr;
}

// ramdisk.<key> (install_modules, install_overlay) set to false.
bool ramdisk_option_off(const data::Value& params, const char* key) {
    const auto* value = at(params, {"ramdisk"}).find(key);
    return value && !value->truthy();
}

void run_tool(JobContext& ctx, const std::vector<std::string>& argv, Clock::time_point deadline, const std::string& what) {
    const auto r = run_command(argv, "", deadline, ctx.canceled, ctx.log);
    if (r.exit_code != 0) fail(ErrorType::kInfrastructure, what + " (" + argv[0] + " exit " + std::to_string(r.exit_code) + ")");
}

// Waits for one of `patterns`; the bootloader actions' timeouts are
// Infrastructure errors (LAVA's timeout_exception), not LAVATimeout.
Match expect_bootloader(JobContext& ctx, const Action& action, const std::vector<std::string>& patterns,
                        Clock::time_point deadline, const std::string& doing) {
    auto m = ctx.console->expect(patterns, deadline);
    if (!m && m.error().code == console_errc::kTimeout) {
        fail(ErrorType::kInfrastructure, action.name() + " timed out " + doing);
    }
    return ctx.check(std::move(m), action.name() + ": " + doing);
}

// ------------------------------------------------------------ deploy to: tftp

class TftpAction : public Action {
public:
    explicit TftpAction(std::string dir) : Action("tftp-deploy", "download files and deploy using tftp", "tftp deployment"), dir_(std::move(dir)) {}
    std::string class_name() const override { return "TftpAction"; }

    void validate(JobContext& ctx) override {
        if (!parameters_.find("kernel")) {
            ctx.errors.push_back(name_ + " needs a kernel to deploy");
            return;
        }
        if (parameters_.find("nfsrootfs") && parameters_.find("persistent_nfs")) {
            ctx.errors.push_back("Only one of nfsrootfs or persistent_nfs can be specified");
        }
        for (const char* key : {"nfsrootfs", "persistent_nfs"}) {
            if (parameters_.find(key)) ctx.errors.push_back(std::string(key) + ": an NFS root is not supported by lava-run yet");
        }
        if (!at(ctx.device, {"actions", "deploy", "methods"}).find("tftp")) {
            ctx.errors.push_back("the device has no deploy method 'tftp'");
        }
        if (ctx.tftp_root.empty()) {
            ctx.errors.push_back("tftpd directory is not configured correctly, see /etc/default/tftpd-hpa (or lava-worker --tftp-dir)");
        } else if (!fs::is_directory(ctx.tftp_root)) {
            ctx.errors.push_back("the TFTP directory " + ctx.tftp_root + " does not exist");
        }
        for (const auto& key : tftp_keys()) {
            if (const auto* image = parameters_.find(key); image && !image->is_dict()) {
                ctx.errors.push_back(key + ": a mapping with a url is required");
            }
        }
        Action::validate(ctx);
    }

    void run(JobContext& ctx, Clock::time_point deadline) override {
        std::error_code ec;
        const fs::path dir(dir_);
        fs::create_directories(dir.parent_path(), ec);
        if (!fs::create_directory(dir, ec) && ec) {
            fail(ErrorType::kInfrastructure, "cannot create " + dir_ + " in the TFTP directory: " + ec.message());
        }
        ctx.tftp = JobContext::Tftp{dir_, {}, kernel_type(parameters_)};
        ctx.log.debug("TFTP directory: " + dir_);
        Action::run(ctx, deadline);
        // What the bootloader loads, relative to the TFTP root; a file a
        // later action replaced (uImage, ramdisk with a header) is set already.
        for (const auto& key : tftp_keys()) {
            const auto* image = image_of(ctx, key);
            if (!image || ctx.tftp->files.count(key)) continue;
            ctx.tftp->files[key] = fs::relative(image->file, ctx.tftp_root).string();
        }
        // The TFTP server reads as its own user: everything world-readable.
        for (fs::path p = dir; p != fs::path(ctx.tftp_root) && p.has_parent_path(); p = p.parent_path()) {
            ::chmod(p.c_str(), 0755);
        }
        for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
            ::chmod(entry.path().c_str(), entry.is_directory() ? 0755 : 0644);
        }
        for (const char* key : {"ramdisk", "kernel", "dtb", "tee"}) {
            const auto it = ctx.tftp->files.find(key);
            if (it == ctx.tftp->files.end()) continue;
            const auto size = fs::file_size(fs::path(ctx.tftp_root) / it->second, ec);
            if (!ec && size >= kTftpSizeLimit) {
                fail(ErrorType::kJob, "Unable to send '" + fs::path(it->second).filename().string() +
                                          "' over tftp: file too large (" + std::to_string(size) + " > " +
                                          std::to_string(kTftpSizeLimit) + ")");
            }
        }
    }

private:
    std::string dir_;
};

// Steps of prepare-tftp-overlay: each does nothing when its file is absent
// (LAVA's idempotent actions).
class ExtractRamdisk : public Action {
public:
    ExtractRamdisk() : Action("extract-overlay-ramdisk", "extract ramdisk to a temporary directory", "extract the ramdisk") {}
    std::string class_name() const override { return "ExtractRamdisk"; }
    void run(JobContext& ctx, Clock::time_point) override {
        const auto* image = image_of(ctx, "ramdisk");
        const auto* params = parameters_.find("ramdisk");
        if (!image || !params || field(*params, "header") != "u-boot") return;
        // lava-cpp adds to the archive rather than unpacking it: only the
        // u-boot header comes off.
        const std::string stripped = image->file + ".noheader";
        {
            std::ifstream in(image->file, std::ios::binary);
            in.seekg(static_cast<std::streamoff>(kUbootHeaderLength));
            std::ofstream out(stripped, std::ios::binary);
            out << in.rdbuf();
            if (!in.good() && !in.eof()) fail(ErrorType::kInfrastructure, "Unable to remove uboot header: " + image->file);
        }
        fs::rename(stripped, image->file);
        ctx.log.debug("Removed the u-boot header of " + image->file);
    }
};

class ExtractModules : public Action {
public:
    ExtractModules() : Action("extract-modules", "extract supplied kernel modules", "extract kernel modules") {}
    std::string class_name() const override { return "ExtractModules"; }
    void run(JobContext& ctx, Clock::time_point) override {
        const auto* modules = image_of(ctx, "modules");
        if (!modules) return;
        const auto* ramdisk = image_of(ctx, "ramdisk");
        if (!ramdisk) fail(ErrorType::kJob, "Unable to identify a location for the unpacked modules");
        if (ramdisk_option_off(parameters_, "install_modules")) {
            ctx.log.info("Not adding modules to the ramdisk.");
            return;
        }
        const std::string archive = ctx.tmp_dir + "/modules.cpio.gz";
        write_cpio_gz_of(modules->file, archive);
        append_file(archive, ramdisk->file);
        ctx.log.info("extracting modules file " + modules->file + " to the ramdisk");
    }
};

class ApplyOverlayTftp : public Action {
public:
    ApplyOverlayTftp() : Action("apply-overlay-tftp", "unpack the overlay into the nfsrootfs or ramdisk", "apply lava overlay test files") {}
    std::string class_name() const override { return "ApplyOverlayTftp"; }
    void run(JobContext& ctx, Clock::time_point) override {
        if (!ctx.overlay) return;
        const auto* ramdisk = image_of(ctx, "ramdisk");
        if (!ramdisk) fail(ErrorType::kJob, "the test overlay needs a ramdisk to go into");
        if (ramdisk_option_off(parameters_, "install_overlay")) {
            ctx.log.info("Skipping applying overlay to the ramdisk");
            return;
        }
        results_extra = {{data::Value("size"), data::Value(append_overlay(ctx, ramdisk->file))}};
    }
};

class UBootPrepareKernelAction : public Action {
public:
    UBootPrepareKernelAction() : Action("uboot-prepare-kernel", "convert kernel to uimage", "prepare/convert kernel") {}
    std::string class_name() const override { return "UBootPrepareKernelAction"; }

    void validate(JobContext& ctx) override {
        const std::string type = kernel_type(parameters_);
        if (type.empty()) return;
        if (type == "bootm" || type == "bootz" || type == "booti") {
            ctx.errors.push_back("booti, bootm and bootz are deprecated, please use 'image', 'uimage' or 'zimage'");
            return;
        }
        if (type != "image" && type != "zimage" && type != "uimage") {
            ctx.errors.push_back("kernel.type: '" + type + "' is not a kernel type (image, zimage or uimage)");
            return;
        }
        const auto& params = at(ctx.device, {"parameters"});
        command_ = map_kernel_uboot(type, params, &warning_);
        if (!params.find(command_)) {
            ctx.errors.push_back("Requested kernel boot type '" + command_ + "' is not supported by this device.");
        }
        if (command_ == "bootm" && type != "uimage") {
            convert_ = true;
            if (!in_path("mkimage")) ctx.errors.push_back("Cannot find command 'mkimage' in $PATH");
            if (!deploy_parameters(ctx).find("mkimage_arch")) {
                ctx.errors.push_back("Missing architecture for uboot mkimage support (mkimage_arch in u-boot parameters)");
            }
        }
    }

    void run(JobContext& ctx, Clock::time_point deadline) override {
        if (!convert_) return;
        const auto* kernel = image_of(ctx, "kernel");
        if (!kernel || !ctx.tftp) fail(ErrorType::kBug, "no kernel to convert");
        if (!warning_.empty()) ctx.log.warning(warning_);
        ctx.log.info("Converting downloaded kernel to a uImage");
        const auto& params = at(ctx.device, {"parameters"});
        std::string load = field(at(params, {command_.c_str()}), "kernel");
        if (params.find("text_offset")) load = field(params, "text_offset");
        const std::string uimage = (fs::path(kernel->file).parent_path() / "uImage").string();
        run_tool(ctx, {"mkimage", "-A", field(deploy_parameters(ctx), "mkimage_arch"), "-O", "linux", "-T", "kernel", "-C", "none",
                       "-a", load, "-e", load, "-d", kernel->file, uimage},
                 deadline, "uImage creation failed");
        ctx.tftp->files["kernel"] = fs::relative(uimage, ctx.tftp_root).string();
    }

private:
    // Set by validate: the boot command for the kernel type, LAVA's warning
    // when it falls back to bootm, and whether the kernel becomes a uImage.
    std::string command_, warning_;
    bool convert_ = false;
};

class CompressRamdisk : public Action {
public:
    CompressRamdisk() : Action("compress-ramdisk", "recreate a ramdisk with the overlay applied.", "compress ramdisk with overlay") {}
    std::string class_name() const override { return "CompressRamdisk"; }

    void validate(JobContext& ctx) override {
        if (!parameters_.find("ramdisk")) return;
        const auto header = field(deploy_parameters(ctx), "add_header");
        if (header.empty()) return;
        if (header != "u-boot") {
            ctx.errors.push_back("ramdisk: add_header: unknown header type");
            return;
        }
        if (!in_path("mkimage")) ctx.errors.push_back("Cannot find command 'mkimage' in $PATH");
        if (!deploy_parameters(ctx).find("mkimage_arch")) {
            ctx.errors.push_back("Missing architecture for uboot mkimage support (mkimage_arch in deploy parameters)");
        }
    }

    void run(JobContext& ctx, Clock::time_point deadline) override {
        const auto* ramdisk = image_of(ctx, "ramdisk");
        if (!ramdisk || !ctx.tftp) return;
        if (field(deploy_parameters(ctx), "add_header") != "u-boot") return;
        ctx.log.debug("Adding RAMdisk u-boot header.");
        const std::string with_header = ramdisk->file + ".uboot";
        run_tool(ctx, {"mkimage", "-A", field(deploy_parameters(ctx), "mkimage_arch"), "-T", "ramdisk", "-C", "none", "-d",
                       ramdisk->file, with_header},
                 deadline, "Unable to add uboot header to ramdisk");
        ctx.tftp->files["ramdisk"] = fs::relative(with_header, ctx.tftp_root).string();
    }
};

// ------------------------------------------------------------ boot: u-boot

class BootloaderCommandOverlay : public Action {
public:
    BootloaderCommandOverlay()
        : Action("bootloader-overlay", "substitute job data into bootloader command list", "replace placeholders with job data") {}
    std::string class_name() const override { return "BootloaderCommandOverlay"; }

    void validate(JobContext& ctx) override {
        const auto* commands = parameters_.find("commands");
        if (!commands) {
            ctx.errors.push_back("missing commands");
            return;
        }
        // The job's own list, or a block of the device's u-boot method.
        const data::Value* list = commands;
        if (!commands->is_sequence()) {
            const std::string name = text_of(*commands);
            const auto* entry = at(ctx.device, {"actions", "boot", "methods", "u-boot"}).find(name);
            if (!entry || name == "parameters") {
                ctx.errors.push_back("Command '" + name + "' not found in supported methods");
                return;
            }
            list = entry->find("commands");
            if (!list) {
                ctx.errors.push_back("No commands found in parameters");
                return;
            }
        }
        if (list->is_sequence()) {
            for (const auto& c : list->as_list()) {
                if (!c.is_str()) ctx.errors.push_back("Deploy Commands instruction is not a string: " + c.repr());
            }
        }
        commands_ = string_list(list);
        if (const auto mac = field(uboot_parameters(ctx), "lava_mac"); !mac.empty()) {
            static const std::string kHex = "0123456789abcdefABCDEF";
            bool ok = mac.size() == 17;
            for (std::size_t i = 0; ok && i < mac.size(); ++i) {
                ok = i % 3 == 2 ? (mac[i] == ':' || mac[i] == '-') : kHex.find(mac[i]) != std::string::npos;
            }
            if (!ok) ctx.errors.push_back("lava_mac is not a valid mac address");
        }
    }

    void run(JobContext& ctx, Clock::time_point) override {
        if (parameters_.find("commands") && parameters_.find("commands")->is_sequence()) {
            ctx.log.warning("WARNING: Using boot commands supplied in the job definition, NOT the LAVA device configuration");
        }
        const std::string ip = dispatcher_ip(ctx);
        const auto file = [&](const char* key) -> std::optional<std::string> {
            if (!ctx.tftp) return std::nullopt;
            const auto it = ctx.tftp->files.find(key);
            if (it == ctx.tftp->files.end()) return std::nullopt;
            return it->second;
        };
        const auto mac = field(uboot_parameters(ctx), "lava_mac");
        std::vector<Substitution> subs = {
            {"{SERVER_IP}", ip},
            {"{PRESEED_CONFIG}", file("preseed")},
            {"{PRESEED_LOCAL}", std::nullopt},
            {"{DTB}", file("dtb")},
            {"{RAMDISK}", file("ramdisk")},
            {"{INITRD}", file("ramdisk")},
            {"{KERNEL}", file("kernel")},
            {"{LAVA_MAC}", mac.empty() ? std::nullopt : std::optional<std::string>(mac)},
            {"{TEE}", file("tee")},
        };
        if (ctx.tftp && !ctx.tftp->kernel_type.empty()) {
            const auto& device_params = at(ctx.device, {"parameters"});
            const std::string command = map_kernel_uboot(ctx.tftp->kernel_type, device_params);
            const auto& addresses = at(device_params, {command.c_str()});
            const std::string kernel_addr = field(addresses, "kernel");
            const std::string dtb_addr = field(addresses, "dtb");
            std::string ramdisk_addr = field(addresses, "ramdisk");
            const auto* tee = addresses.find("tee");
            const std::string tee_addr = tee ? text_of(*tee) : std::string();
            if (!file("ramdisk")) ramdisk_addr = "-";
            if (field(deploy_parameters(ctx), "add_header") != "u-boot") {
                ctx.log.debug("No u-boot header, not passing ramdisk to bootX cmd");
                ramdisk_addr = "-";
            }
            const std::string first = file("tee") ? tee_addr : kernel_addr;
            subs.push_back({"{BOOTX}", command + " " + first + " " + ramdisk_addr + " " + dtb_addr});
            subs.push_back({"{KERNEL_ADDR}", kernel_addr});
            subs.push_back({"{DTB_ADDR}", dtb_addr});
            subs.push_back({"{RAMDISK_ADDR}", ramdisk_addr});
            subs.push_back({"{TEE_ADDR}", tee ? std::optional<std::string>(tee_addr) : std::nullopt});
            results_extra = {{data::Value("kernel_addr"), data::Value(kernel_addr)},
                             {data::Value("dtb_addr"), data::Value(dtb_addr)},
                             {data::Value("ramdisk_addr"), data::Value(ramdisk_addr)},
                             {data::Value("tee_addr"), tee ? data::Value(tee_addr) : data::Value()}};
        } else {
            for (const auto& line : commands_) {
                if (line.find("{BOOTX}") != std::string::npos) {
                    fail(ErrorType::kJob, "Kernel image type can't be determined: give the deploy's kernel a type (image, zimage or uimage)");
                }
            }
        }
        subs.push_back({"{ROOT}", std::nullopt});
        subs.push_back({"{ROOT_PART}", std::nullopt});
        ctx.log.debug("substitutions:");
        auto sorted = subs;
        std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
        for (const auto& s : sorted) ctx.log.debug("- " + s.key + ": " + (s.value ? *s.value : "None"));
        ctx.bootloader_commands = substitute(commands_, subs, true);
        ctx.log.info("Parsed boot commands:");
        for (const auto& c : ctx.bootloader_commands) ctx.log.info("- " + c);
    }

private:
    std::vector<std::string> commands_;
};

class BootloaderInterruptAction : public Action {
public:
    BootloaderInterruptAction() : Action("bootloader-interrupt", "interrupt bootloader", "interrupt bootloader to get an interactive shell") {}
    std::string class_name() const override { return "BootloaderInterruptAction"; }

    void validate(JobContext& ctx) override {
        if (!uboot_parameters(ctx).find("bootloader_prompt")) ctx.errors.push_back("Missing bootloader prompt for device");
        const auto plan = interrupt_plan(uboot_parameters(ctx), ctx.constant("u-boot"));
        if (plan.needed && plan.prompt.empty()) ctx.errors.push_back("Missing interrupt prompt for device (interrupt_prompt)");
    }

    void run(JobContext& ctx, Clock::time_point deadline) override {
        if (!ctx.console) fail(ErrorType::kBug, name_ + " started without a connection already in use");
        ctx.at_bootloader_prompt = false;
        const auto plan = interrupt_plan(uboot_parameters(ctx), ctx.constant("u-boot"));
        const auto wait_until = std::min(deadline, until(connection_timeout_));
        if (!plan.needed) {
            ctx.log.info("Not interrupting bootloader, waiting for bootloader prompt");
            expect_bootloader(ctx, *this, {plan.prompt}, wait_until, "waiting for the bootloader prompt '" + plan.prompt + "'");
            ctx.at_bootloader_prompt = true;
            return;
        }
        expect_bootloader(ctx, *this, {plan.prompt}, wait_until, "waiting for the interrupt prompt '" + plan.prompt + "'");
        for (const auto& text : plan.sends) {
            ctx.check(plan.newline ? ctx.console->sendline(text) : ctx.console->send(text), name_);
        }
    }
};

class BootloaderCommandsAction : public Action {
public:
    BootloaderCommandsAction() : Action("bootloader-commands", "send commands to bootloader", "interactive bootloader") {
        timeout_ = Seconds(90);  // LAVA's BOOTLOADER_DEFAULT_CMD_TIMEOUT, before the device's and job's
    }
    std::string class_name() const override { return "BootloaderCommandsAction"; }

    void run(JobContext& ctx, Clock::time_point deadline) override {
        if (!ctx.console) fail(ErrorType::kBug, name_ + " started without a connection already in use");
        const std::string prompt = field(uboot_parameters(ctx), "bootloader_prompt");
        const auto errors = bootloader_errors(ctx.constant("u-boot"));
        const std::string final_message = field(ctx.constant("u-boot"), "final-message");
        std::vector<std::string> patterns{prompt};
        patterns.insert(patterns.end(), errors.begin(), errors.end());
        const auto wait = [&](const std::vector<std::string>& wanted, const std::string& doing) {
            const auto m = expect_bootloader(ctx, *this, wanted, std::min(deadline, until(connection_timeout_)), doing);
            if (m.index != 0) fail(ErrorType::kInfrastructure, bootloader_error_message(wanted, m.index));
        };
        if (!ctx.at_bootloader_prompt) wait({prompt}, "waiting for the bootloader prompt '" + prompt + "'");
        const auto delay = character_delay(ctx, "boot");
        const auto& commands = ctx.bootloader_commands;
        for (std::size_t i = 0; i < commands.size(); ++i) {
            ctx.check(ctx.console->sendline(commands[i], delay), name_);
            if (i + 1 == commands.size()) {
                if (final_message.empty()) break;
                std::vector<std::string> last{final_message};
                last.insert(last.end(), errors.begin(), errors.end());
                wait(last, "waiting for '" + final_message + "' after '" + commands[i] + "'");
            } else {
                wait(patterns, "waiting for the bootloader prompt after '" + commands[i] + "'");
            }
        }
        results_extra = {{data::Value("commands"), data::Value(static_cast<long long>(commands.size()))}};
    }
};

std::string random_suffix() {
    static const char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789_";
    std::random_device random;
    std::string out;
    for (int i = 0; i < 8; ++i) out += kChars[random() % (sizeof kChars - 1)];
    return out;
}

}  // namespace

// ------------------------------------------------------------ builders

std::unique_ptr<Action> build_tftp_deploy(JobContext& ctx, const data::Value& params, std::vector<data::Value> test_blocks,
                                          bool transfer) {
    // <root>/<job id>/tftp-deploy-XXXXXXXX, as LAVA's mkdtemp names it;
    // created when the deploy runs.
    const std::string dir = ctx.tftp_root + "/" + ctx.job_id + "/tftp-deploy-" + random_suffix();
    auto deploy = make<TftpAction>(ctx, params, dir);
    for (const auto& key : tftp_keys()) {
        const auto* image = params.find(key);
        if (!image || !image->is_dict()) continue;
        data::Value wanted = *image;
        if (key == "modules" && !image->find("archive")) {
            // The modules tarball is unpacked on download, then added to the ramdisk.
            auto dict = image->as_dict();
            dict.emplace_back(data::Value("archive"), data::Value("tar"));
            wanted = data::Value(std::move(dict));
        }
        deploy->add(make_download(ctx, params, key, wanted, dir, key == "ramdisk"));
    }
    auto prepare = make<Action>(ctx, params, "prepare-tftp-overlay", "extract ramdisk or nfsrootfs in preparation for lava overlay",
                                "extract ramdisk or nfsrootfs");
    const bool overlay = !test_blocks.empty();
    if (overlay) prepare->add(make_overlay(ctx, params, std::move(test_blocks)));
    if (overlay && transfer) prepare->add(make_compress_overlay(ctx, params));
    prepare->add(make<ExtractRamdisk>(ctx, params));
    prepare->add(make<ExtractModules>(ctx, params));
    if (!transfer) prepare->add(make<ApplyOverlayTftp>(ctx, params));
    if (const auto* kernel = params.find("kernel"); kernel && kernel->find("type")) {
        auto kernel_action = make<Action>(ctx, params, "prepare-kernel", "populates the pipeline with a kernel conversion action",
                                          "add a kernel conversion");
        kernel_action->add(make<UBootPrepareKernelAction>(ctx, params));
        prepare->add(std::move(kernel_action));
    }
    prepare->add(make<CompressRamdisk>(ctx, params));
    deploy->add(std::move(prepare));
    return deploy;
}

std::pair<std::unique_ptr<Action>, Action*> build_uboot_boot(JobContext& ctx, const data::Value& params) {
    auto boot = make<RetryAction>(ctx, params, "uboot-action", "interactive uboot action", "pass uboot commands");
    boot->add(make<BootloaderCommandOverlay>(ctx, params));
    boot->add(make_connect_device(ctx, params));
    auto commands = make<Action>(ctx, params, "uboot-commands", "interactive uboot commands action", "uboot commands");
    commands->add(make_reset_device(ctx, params));
    commands->add(make<BootloaderInterruptAction>(ctx, params));
    commands->add(make<BootloaderCommandsAction>(ctx, params));
    Action* login_parent = commands.get();
    boot->add(std::move(commands));
    return {std::move(boot), login_parent};
}

void remove_tftp_files(const JobContext& ctx) {
    if (!ctx.tftp || ctx.tftp->dir.empty()) return;
    // <root>/<job id>: every tftp deploy of the job (LAVA removes it too).
    std::error_code ec;
    fs::remove_all(fs::path(ctx.tftp->dir).parent_path(), ec);
}

}  // namespace lava::worker::run
