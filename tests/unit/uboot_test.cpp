// lava-run's u-boot boot and TFTP deploy without a board: LAVA's command
// substitution, the kernel-type mapping, interrupt sequences, the TFTP root,
// and the u-boot conversation against a scripted console (a shell script as
// the connection command: error messages, interrupt, typed commands).
#include "common/proto/logline.hpp"
#include "yaml_value.hpp"
#include "worker/run/job_log.hpp"
#include "worker/run/pipeline.hpp"
#include "worker/run/uboot.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace lava::worker::run {
namespace {

namespace data = common::data;
namespace fs = std::filesystem;

TEST(UBootSubstitute, ReplacesInOrderAndDropsLinesWithoutValues) {
    const std::vector<std::string> commands = {
        "setenv serverip {SERVER_IP}", "tftp {KERNEL_ADDR} {KERNEL}", "tftp {RAMDISK_ADDR} {RAMDISK}",
        "tftp {TEE_ADDR} {TEE}",       "tftp {DTB_ADDR} {DTB}",       "{BOOTX}",
        "echo {UNKNOWN} stays",        "{KERNEL} {KERNEL}"};
    const std::vector<Substitution> subs = {{"{SERVER_IP}", "192.0.2.2"},
                                            {"{DTB}", std::nullopt},
                                            {"{RAMDISK}", "7/tftp-deploy-x/ramdisk/initrd.uboot"},
                                            {"{KERNEL}", "7/tftp-deploy-x/kernel/Image"},
                                            {"{TEE}", ""},
                                            {"{BOOTX}", "booti 0x1 0x2 0x3"},
                                            {"{KERNEL_ADDR}", "0x1"},
                                            {"{DTB_ADDR}", "0x3"},
                                            {"{RAMDISK_ADDR}", "0x2"}};
    const auto out = substitute(commands, subs, true);
    const std::vector<std::string> expected = {"setenv serverip 192.0.2.2",
                                               "tftp 0x1 7/tftp-deploy-x/kernel/Image",
                                               "tftp 0x2 7/tftp-deploy-x/ramdisk/initrd.uboot",
                                               "booti 0x1 0x2 0x3",
                                               "echo {UNKNOWN} stays",
                                               "7/tftp-deploy-x/kernel/Image 7/tftp-deploy-x/kernel/Image"};
    EXPECT_EQ(out, expected);
    // Without drop, a placeholder without a value stays as it is.
    EXPECT_EQ(substitute({"tftp {DTB_ADDR} {DTB}"}, subs, false), std::vector<std::string>{"tftp 0x3 {DTB}"});
}

TEST(UBootKernelType, MapsToTheDevicesBootCommand) {
    const auto both = yaml("booti: {kernel: '0x1'}\nbootz: {kernel: '0x2'}\nbootm: {kernel: '0x3'}\n");
    const auto bootm_only = yaml("bootm: {kernel: '0x3'}\n");
    EXPECT_EQ(map_kernel_uboot("image", both), "booti");
    EXPECT_EQ(map_kernel_uboot("zimage", both), "bootz");
    EXPECT_EQ(map_kernel_uboot("uimage", both), "bootm");
    std::string warning;
    EXPECT_EQ(map_kernel_uboot("zimage", bootm_only, &warning), "bootm");
    EXPECT_EQ(warning, "No bootz parameters available, falling back to bootm and converting zImage");
    EXPECT_EQ(map_kernel_uboot("image", data::Value(), &warning), "bootm");
}

TEST(UBootInterrupt, SequencesFromParametersAndConstants) {
    const auto constants = yaml(
        "interrupt-prompt: 'Hit any key to stop autoboot'\ninterrupt-character: ' '\ninterrupt-newline: true\n"
        "interrupt_ctrl_list: []\n");
    // LAVA's base-uboot: interrupt_char "" in the method parameters wins: a bare newline.
    auto plan = interrupt_plan(yaml("bootloader_prompt: '=>'\ninterrupt_char: ''\nneeds_interrupt: true\n"), constants);
    EXPECT_TRUE(plan.needed);
    EXPECT_EQ(plan.prompt, "Hit any key to stop autoboot");
    EXPECT_EQ(plan.sends, std::vector<std::string>{""});
    EXPECT_TRUE(plan.newline);
    // No method parameter: the constant's character.
    plan = interrupt_plan(yaml("bootloader_prompt: '=>'\ninterrupt_prompt: 'Press a key'\n"), constants);
    EXPECT_EQ(plan.prompt, "Press a key");
    EXPECT_EQ(plan.sends, std::vector<std::string>{" "});
    // Control characters, sent without a newline.
    plan = interrupt_plan(yaml("bootloader_prompt: '=>'\ninterrupt_ctrl_list: [c, B]\n"), constants);
    EXPECT_EQ(plan.sends, (std::vector<std::string>{"\x03", "\x02"}));
    EXPECT_FALSE(plan.newline);
    // interrupt-newline false: the character alone.
    plan = interrupt_plan(yaml("bootloader_prompt: '=>'\n"), yaml("interrupt-character: 'x'\ninterrupt-newline: false\n"));
    EXPECT_EQ(plan.sends, std::vector<std::string>{"x"});
    EXPECT_FALSE(plan.newline);
    // needs_interrupt false: wait for the bootloader prompt instead.
    plan = interrupt_plan(yaml("bootloader_prompt: 'U-Boot>'\nneeds_interrupt: false\n"), constants);
    EXPECT_FALSE(plan.needed);
    EXPECT_EQ(plan.prompt, "U-Boot>");
    EXPECT_TRUE(plan.sends.empty());
}

TEST(UBootErrors, MessagesAndTftpRoot) {
    const auto constants = yaml("error-messages: ['Resetting CPU', 'TFTP error', 'Retry count exceeded']\n");
    const auto errors = bootloader_errors(constants);
    ASSERT_EQ(errors.size(), 3u);
    std::vector<std::string> patterns{"=>"};
    patterns.insert(patterns.end(), errors.begin(), errors.end());
    EXPECT_EQ(bootloader_error_message(patterns, 2), "matched a bootloader error message: 'TFTP error' (2)");

    const fs::path dir = fs::temp_directory_path() / ("uboot-test-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "tftpd-hpa") << "# /etc/default/tftpd-hpa\nTFTP_USERNAME=\"tftp\"\nTFTP_DIRECTORY=\"/srv/tftp\"\n"
                                        "TFTP_ADDRESS=\":69\"\n";
    EXPECT_EQ(tftp_root("", (dir / "tftpd-hpa").string()), "/srv/tftp");
    EXPECT_EQ(tftp_root("/var/lib/tftp", (dir / "tftpd-hpa").string()), "/var/lib/tftp");
    EXPECT_EQ(tftp_root("", (dir / "missing").string()), "");
    fs::remove_all(dir);
}

// ------------------------------------------------------------ the conversation

struct Captured {
    std::vector<std::string> lines;
    JobLog log{"", false, [this](std::string line) { lines.push_back(std::move(line)); }};
    std::vector<data::Value> records(const char* level) const {
        std::string all;
        for (const auto& l : lines) all += l + "\n";
        auto parsed = proto::parse_log_batch(all);
        std::vector<data::Value> out;
        if (!parsed) return out;
        for (const auto& p : *parsed) {
            if (p.record.find("lvl")->as_str() == level) out.push_back(*p.record.find("msg"));
        }
        return out;
    }
};

// A scripted u-boot: the autoboot prompt, then a prompt after each line;
// `tftp` of a file named "missing" fails as u-boot's does; booti starts the kernel.
const char* kFakeUboot = R"(
if [ -n "$UBOOT_SOFT_REBOOT" ]; then
  IFS= read -r line
  echo "$line" >> "$UBOOT_TYPED"
  printf 'The system is going down for reboot NOW\r\n'
fi
printf 'U-Boot 2023.01\r\nHit any key to stop autoboot:  2 '
IFS= read -r line
printf '\r\n=> '
while IFS= read -r line; do
  printf '%s\r\n' "$line"
  echo "$line" >> "$UBOOT_TYPED"
  case "$line" in
    *missing*) printf "TFTP error: 'File not found' (1)\r\nNot retrying...\r\n=> " ;;
    booti*) printf 'Starting kernel ...\r\n'; sleep 5; exit 0 ;;
    *) printf '=> ' ;;
  esac
done
)";

struct Board {
    fs::path dir = fs::temp_directory_path() / ("uboot-board-" + std::to_string(::getpid()));
    Captured c;
    std::atomic<bool> canceled{false};
    JobContext ctx{c.log, {}, {}, {}, {}, "7", "", "", canceled, -1, {}};

    explicit Board(const std::string& kernel_file, bool soft_reboot = false) {
        fs::create_directories(dir);
        std::ofstream(dir / "uboot.sh") << kFakeUboot;
        ::setenv("UBOOT_TYPED", (dir / "typed").c_str(), 1);
        if (soft_reboot) {
            ::setenv("UBOOT_SOFT_REBOOT", "1", 1);
        } else {
            ::unsetenv("UBOOT_SOFT_REBOOT");
        }
        ctx.device = yaml(
            "commands:\n  connect: sh " + (dir / "uboot.sh").string() + "\n" +
            (soft_reboot ? "  soft_reboot: 'reboot -f'\n" : "  hard_reset: 'true'\n") +
            "constants:\n  shutdown-message: 'The system is going down for reboot NOW'\n"
            "  u-boot:\n    interrupt-prompt: 'Hit any key to stop autoboot'\n    interrupt-character: ' '\n"
            "    interrupt-newline: true\n    final-message: 'Starting kernel'\n"
            "    error-messages: ['Resetting CPU', 'File not found', 'Retry count exceeded']\n"
            "parameters:\n  booti: {kernel: '${kernel_addr_r}', ramdisk: '${ramdisk_addr_r}', dtb: '${fdt_addr}'}\n"
            "actions:\n  deploy:\n    parameters: {add_header: u-boot, mkimage_arch: arm64}\n    methods: {tftp: }\n"
            "  boot:\n    connections: {serial: }\n    methods:\n      u-boot:\n        parameters:\n"
            "          bootloader_prompt: '=>'\n          interrupt_prompt: 'Hit any key to stop autoboot'\n"
            "          interrupt_char: ''\n          needs_interrupt: true\n"
            "        ramdisk:\n          commands: ['setenv serverip {SERVER_IP}', 'tftp {KERNEL_ADDR} {KERNEL}',\n"
            "                     'tftp {RAMDISK_ADDR} {RAMDISK}', 'tftp {DTB_ADDR} {DTB}', '{BOOTX}']\n");
        ctx.dispatcher = yaml("dispatcher_ip: 192.0.2.9\n");
        ctx.tftp = JobContext::Tftp{(dir / "7").string(),
                                    {{"kernel", "7/tftp-deploy-x/kernel/" + kernel_file},
                                     {"ramdisk", "7/tftp-deploy-x/ramdisk/initrd.cpio.gz.uboot"}},
                                    "image"};
    }
    ~Board() { fs::remove_all(dir); }

    void boot() {
        auto [boot, login_parent] = build_uboot_boot(ctx, yaml("method: u-boot\ncommands: ramdisk\n"));
        ASSERT_NE(login_parent, nullptr);
        boot->assign_levels("2");
        boot->validate(ctx);  // as lava-run validates the pipeline first
        ASSERT_TRUE(ctx.errors.empty()) << ctx.errors.front();
        std::vector<std::unique_ptr<Action>> actions;
        actions.push_back(std::move(boot));
        run_actions(actions, ctx, Clock::now() + std::chrono::seconds(20), true);
    }
    std::string typed() const {
        std::ifstream in(dir / "typed");
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
};

TEST(UBootConversation, InterruptsTypesTheSubstitutedCommandsAndSeesTheKernelStart) {
    Board board("Image");
    ASSERT_NO_THROW(board.boot());
    // The interrupt was a bare newline (read by the script's first `read`),
    // then every command after its prompt, placeholders substituted, the
    // line without a dtb dropped.
    EXPECT_EQ(board.typed(),
              "setenv serverip 192.0.2.9\n"
              "tftp ${kernel_addr_r} 7/tftp-deploy-x/kernel/Image\n"
              "tftp ${ramdisk_addr_r} 7/tftp-deploy-x/ramdisk/initrd.cpio.gz.uboot\n"
              "booti ${kernel_addr_r} ${ramdisk_addr_r} ${fdt_addr}\n");
    std::vector<std::string> passed;
    for (const auto& r : board.c.records("results")) {
        if (const auto* result = r.find("result"); result && result->as_str() == "pass") passed.push_back(r.find("case")->as_str());
    }
    const std::vector<std::string> expected = {"bootloader-overlay", "connect-device", "pdu-reboot", "reset-device",
                                               "bootloader-interrupt", "bootloader-commands", "uboot-commands", "uboot-action"};
    EXPECT_EQ(passed, expected);
}

TEST(UBootConversation, WithoutAHardResetTheDevicesSoftRebootCommandIsTyped) {
    Board board("Image", true);
    ASSERT_NO_THROW(board.boot());
    EXPECT_EQ(board.typed().substr(0, 10), "reboot -f\n");
    bool soft = false;
    for (const auto& r : board.c.records("results")) soft = soft || r.find("case")->as_str() == "send-reboot-commands";
    EXPECT_TRUE(soft);
}

TEST(UBootConversation, AUbootErrorMessageIsAnInfrastructureErrorNamingIt) {
    Board board("missing");
    try {
        board.boot();
        FAIL() << "the boot passed";
    } catch (const JobFailure& f) {
        EXPECT_EQ(f.type(), ErrorType::kInfrastructure);
        EXPECT_STREQ(f.what(), "matched a bootloader error message: 'File not found' (2)");
    }
    // The commands stopped at the failing one.
    EXPECT_EQ(board.typed(), "setenv serverip 192.0.2.9\ntftp ${kernel_addr_r} 7/tftp-deploy-x/kernel/missing\n");
}

// ------------------------------------------------------------ deploy to: tftp

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

bool run(const std::string& command) { return std::system(command.c_str()) == 0; }

// The names in a (compressed) cpio archive.
std::vector<std::string> cpio_entries(const std::string& data) {
    std::vector<std::string> names;
    std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
    archive_read_support_filter_all(a.get());
    archive_read_support_format_cpio(a.get());
    if (archive_read_open_memory(a.get(), data.data(), data.size()) != ARCHIVE_OK) return names;
    archive_entry* entry = nullptr;
    while (archive_read_next_header(a.get(), &entry) == ARCHIVE_OK) names.emplace_back(archive_entry_pathname(entry));
    return names;
}

TEST(UBootDeploy, ZImageBecomesAUImageAndTheRamdiskGetsTheModulesAndItsHeaderBack) {
    if (!run("command -v mkimage >/dev/null")) GTEST_SKIP() << "mkimage (u-boot-tools) is not installed";
    const fs::path dir = fs::temp_directory_path() / ("uboot-deploy-" + std::to_string(::getpid()));
    fs::create_directories(dir / "tftp");
    fs::create_directories(dir / "images");
    std::ofstream(dir / "images" / "zImage") << std::string(4096, 'k');
    std::ofstream(dir / "images" / "payload") << std::string(2048, 'r');
    fs::create_directories(dir / "modules" / "lib" / "modules" / "6.1.0" / "extra");
    std::ofstream(dir / "modules" / "lib" / "modules" / "6.1.0" / "extra" / "dut.ko") << "module";
    ASSERT_TRUE(run("tar -C " + (dir / "modules").string() + " -czf " + (dir / "images" / "modules.tar.gz").string() + " lib"));
    ASSERT_TRUE(run("mkimage -A arm -T ramdisk -C none -d " + (dir / "images" / "payload").string() + " " +
                    (dir / "images" / "ramdisk.uboot").string() + " >/dev/null"));
    Captured c;
    std::atomic<bool> canceled{false};
    JobContext ctx{c.log, {}, {}, {}, {}, "12", "", (dir / "tmp").string(), canceled, -1, {}};
    fs::create_directories(ctx.tmp_dir);
    ctx.tftp_root = (dir / "tftp").string();
    ctx.device = yaml(
        "commands: {connect: 'true'}\n"
        "parameters:\n  bootm: {kernel: '0x80200000', ramdisk: '0x81600000', dtb: '0x815f0000'}\n"
        "actions:\n  deploy:\n    parameters: {add_header: u-boot, mkimage_arch: arm}\n    methods: {tftp: }\n"
        "  boot:\n    methods:\n      u-boot:\n        parameters: {bootloader_prompt: '=>', interrupt_prompt: 'Hit any key'}\n"
        "        ramdisk:\n          commands: ['tftp {KERNEL_ADDR} {KERNEL}', 'tftp {RAMDISK_ADDR} {RAMDISK}', '{BOOTX}']\n");
    ctx.job = yaml("job_name: t\n");
    const auto params = yaml("to: tftp\nkernel: {url: 'file://" + (dir / "images" / "zImage").string() +
                             "', type: zimage}\nramdisk: {url: 'file://" + (dir / "images" / "ramdisk.uboot").string() +
                             "', header: u-boot}\nmodules: {url: 'file://" + (dir / "images" / "modules.tar.gz").string() +
                             "', compression: gz}\n");
    std::vector<std::unique_ptr<Action>> actions;
    actions.push_back(build_tftp_deploy(ctx, params, {}));
    auto [boot, login_parent] = build_uboot_boot(ctx, yaml("method: u-boot\ncommands: ramdisk\n"));
    (void)login_parent;
    for (auto& a : actions) a->validate(ctx);
    ASSERT_TRUE(ctx.errors.empty()) << ctx.errors.front();
    actions[0]->assign_levels("1");
    run_actions(actions, ctx, Clock::now() + std::chrono::seconds(30), true);
    ASSERT_TRUE(ctx.tftp);
    // zImage on a bootm-only device: converted to a uImage next to it.
    const std::string kernel = ctx.tftp->files["kernel"];
    EXPECT_EQ(kernel.rfind("12/tftp-deploy-", 0), 0u) << kernel;
    EXPECT_EQ(fs::path(kernel).filename(), "uImage");
    const std::string uimage = read_all(dir / "tftp" / kernel);
    ASSERT_GT(uimage.size(), 64u);
    EXPECT_EQ(uimage.substr(0, 4), std::string("\x27\x05\x19\x56", 4));  // a legacy u-boot image
    EXPECT_EQ(uimage.substr(64), std::string(4096, 'k'));
    // The ramdisk: its header off, the modules appended as a cpio archive,
    // a new header over both.
    const std::string ramdisk = ctx.tftp->files["ramdisk"];
    EXPECT_EQ(fs::path(ramdisk).filename(), "ramdisk.uboot.uboot");
    const std::string image = read_all(dir / "tftp" / ramdisk);
    EXPECT_EQ(image.substr(0, 4), std::string("\x27\x05\x19\x56", 4));
    EXPECT_EQ(image.substr(64, 2048), std::string(2048, 'r'));
    EXPECT_EQ(cpio_entries(image.substr(64 + 2048)),
              (std::vector<std::string>{"lib", "lib/modules", "lib/modules/6.1.0", "lib/modules/6.1.0/extra",
                                        "lib/modules/6.1.0/extra/dut.ko"}));
    // The files are world-readable for the TFTP server.
    EXPECT_NE(fs::status(dir / "tftp" / kernel).permissions() & fs::perms::others_read, fs::perms::none);
    // {BOOTX} is bootm with the device's bootm addresses.
    boot->validate(ctx);
    ASSERT_TRUE(ctx.errors.empty()) << ctx.errors.front();
    boot->children().front()->run(ctx, Clock::now() + std::chrono::seconds(5));  // bootloader-overlay
    EXPECT_EQ(ctx.bootloader_commands,
              (std::vector<std::string>{"tftp 0x80200000 " + kernel, "tftp 0x81600000 " + ramdisk,
                                        "bootm 0x80200000 0x81600000 0x815f0000"}));
    remove_tftp_files(ctx);
    EXPECT_FALSE(fs::exists(dir / "tftp" / "12"));
    EXPECT_TRUE(fs::exists(dir / "tftp"));
    fs::remove_all(dir);
}

TEST(UBootDeploy, ValidationNamesWhatIsMissingOrUnsupported) {
    Captured c;
    std::atomic<bool> canceled{false};
    JobContext ctx{c.log, {}, {}, {}, {}, "13", "", "/nonexistent", canceled, -1, {}};
    ctx.device = yaml("actions:\n  deploy:\n    methods: {tmpfs: }\n");
    auto deploy = build_tftp_deploy(ctx, yaml("to: tftp\nramdisk: {url: 'file:///x'}\n"), {});
    deploy->validate(ctx);
    ASSERT_FALSE(ctx.errors.empty());
    EXPECT_EQ(ctx.errors.front(), "tftp-deploy needs a kernel to deploy");
    ctx.errors.clear();
    auto nfs = build_tftp_deploy(ctx, yaml("to: tftp\nkernel: {url: 'file:///x', type: booti}\nnfsrootfs: {url: 'file:///y'}\n"), {});
    nfs->validate(ctx);
    const auto has = [&](const std::string& e) { return std::find(ctx.errors.begin(), ctx.errors.end(), e) != ctx.errors.end(); };
    EXPECT_TRUE(has("the device has no deploy method 'tftp'"));
    EXPECT_TRUE(has("tftpd directory is not configured correctly, see /etc/default/tftpd-hpa (or lava-worker --tftp-dir)"));
    EXPECT_TRUE(has("nfsrootfs: an NFS root is not supported by lava-run yet"));
    EXPECT_TRUE(has("booti, bootm and bootz are deprecated, please use 'image', 'uimage' or 'zimage'"));
}

}  // namespace
}  // namespace lava::worker::run
