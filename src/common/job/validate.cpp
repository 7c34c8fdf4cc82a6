#include "common/job/validate.hpp"

#include "common/base/file.hpp"
#include "common/job/testdef.hpp"
#include "common/job/timeout.hpp"
#include "common/yaml/load.hpp"

#include <algorithm>
#include <map>

namespace lava::common::job {
namespace {

using data::Value;
using namespace schema;

const std::vector<std::string> kContextVariables = {
    // qemu
    "arch", "boot_console", "boot_root", "cpu", "extra_options", "guestfs_driveid",
    "guestfs_interface", "guestfs_size", "machine", "memory", "model", "monitor", "netdevice",
    "no_kvm", "serial", "vga",
    // u-boot
    "booti_dtb_addr", "booti_kernel_addr", "booti_ramdisk_addr", "bootm_dtb_addr",
    "bootm_kernel_addr", "bootm_ramdisk_addr", "bootz_dtb_addr", "bootz_kernel_addr",
    "bootz_ramdisk_addr",
    // others
    "boot_character_delay", "boot_retry", "bootloader_prompt", "console_device",
    "custom_kernel_args", "extra_kernel_args", "extra_nfsroot_args", "failure_retry",
    "kernel_loglevel", "kernel_start_message", "lava_test_results_dir", "menu_interrupt_prompt",
    "mustang_menu_list", "test_character_delay", "tftp_mac_address", "uboot_extra_error_message",
    "uboot_needs_interrupt", "uboot_altbank"};

const char* const kNamePattern = "^[-_a-zA-Z0-9.]+$";
const char* const kDockerImagePattern =
    "^[a-z0-9]+[a-z0-9._/:-]*[a-z0-9]+(:[a-zA-Z0-9_]+[a-zA-Z0-9._-]*)?$";

Schema lits(std::initializer_list<const char*> values) {
    std::vector<Schema> alts;
    for (const char* v : values) alts.push_back(literal(Value(v)));
    return any(std::move(alts));
}

// Builds LAVA's schemas in one mode. In strict mode (voluptuous
// extra=PREVENT_EXTRA) unknown keys are errors in every mapping; otherwise
// (ALLOW_EXTRA) they pass, except in mappings LAVA wraps in their own
// Schema(extra=False), such as `context`.
class Builder {
public:
    explicit Builder(bool strict) : strict_(strict) {}

    Schema m(Fields f) const { return map(std::move(f), MapOptions{!strict_, {}}); }

    Schema timeout() const {
        std::vector<Schema> alts;
        for (const char* unit : {"days", "hours", "minutes", "seconds"}) {
            alts.push_back(m({{required(unit), range(1, std::nullopt)},
                              {optional("skip"), boolean()}}));
        }
        return any(std::move(alts));
    }

    Fields action() const {
        return {
            {optional("namespace"),
             all({str(), not_in({"common", "docker-test-shell"},
                                "'common' and 'docker-test-shell' are reserved namespace names")})},
            {optional("connection-namespace"), str()},
            {optional("protocols"), anything()},
            {optional("role"), list({str()})},
            {optional("timeout"), timeout()},
            {optional("timeouts"), m({{optional(str()), timeout()}})},
            {optional("repeat"), range(1, std::nullopt)},
            {optional("failure_retry"), range(1, std::nullopt)},
            {optional("failure_retry_interval"), range(1, std::nullopt)},
        };
    }

    Schema context(const std::vector<std::string>& variables) const {
        // Its own Schema(extra=False) in LAVA: unknown variables are errors in both modes.
        return map({{optional(in(variables)), any({integer(), str(), list({integer(), str()})})}},
                   MapOptions{false, "unknown context variable; known: " + join(variables)});
    }

    Fields docker(const char* image_key = "image") const {
        return {{required(image_key), match(kDockerImagePattern, "Invalid docker image name")},
                {optional("local"), boolean()},
                {optional("container_name"), str()},
                {optional("network_from"), str()}};
    }

    Fields base_url() const {
        return {{required("url"), str()},
                {optional("headers"), dict()},
                {optional("compression"),
                 any({literal("bz2"), literal("gz"), literal("xz"), literal("zip"),
                      literal("zstd"), literal(Value::none())})},
                {optional("archive"), literal("tar")},
                {optional("md5sum"), str()},
                {optional("sha256sum"), str()},
                {optional("sha512sum"), str()}};
    }

    // deploy.url(extra): a plain image, or an image in a filesystem format with overlays.
    Schema url(const Fields& extra = {}) const {
        Fields plain = merge(base_url(), extra);
        Fields overlay_item = merge(base_url(), {{required("format"), lits({"file", "tar"})},
                                                 {required("path"), str()}});
        Fields formatted = merge(plain, {{required("format"), lits({"cpio.newc", "ext4", "tar"})},
                                         {optional("partition"), integer()},
                                         {optional("sparse"), boolean()},
                                         {required("overlays"),
                                          m({{optional("lava"), boolean()},
                                             {optional(str()), m(overlay_item)}})}});
        return any({m(std::move(plain)), m(std::move(formatted))});
    }

    Fields deploy_base() const {
        return merge(action(), {{optional("os"), str()}, {optional("authorize"), literal("ssh")}});
    }
    Schema deploy(const char* to, Fields fields) const {
        return m(merge(deploy_base(), merge({{required("to"), literal(to)}}, fields)));
    }
    Schema images(const Schema& each) const {
        return m({{required(str(), "'images' is empty"), each}});
    }

    Schema auto_login() const {
        return any({m({{required("login_prompt"), all({str(), length(1, std::nullopt)})},
                       {required("username"), str()},
                       {optional("login_commands"), list({all({str(), length(1, std::nullopt)})})}}),
                    m({{required("login_prompt"), all({str(), length(1, std::nullopt)})},
                       {required("username"), str()},
                       {required("password_prompt"), str()},
                       {required("password"), str()},
                       {optional("login_commands"), list({str()})}})});
    }
    Schema transfer_overlay() const {
        return m({{required("download_command"), str()},
                  {required("unpack_command"), str()},
                  {optional("transfer_method"), str()}});
    }
    Schema prompts() const {
        Schema prompt = all({str(), length(1, std::nullopt)});
        return any({prompt, list({prompt})});
    }
    Schema str_or_list() const { return any({str(), list({str()})}); }

    Fields boot_base() const {
        return merge(action(), {{optional("parameters"),
                                 m({{optional("kernel-start-message"), str()},
                                    {optional("shutdown-message"), str()}})},
                                {optional("soft_reboot"), str_or_list()}});
    }
    Schema boot(const char* method, Fields fields) const {
        const std::string msg = std::string("'method' should be '") + method + "'";
        return m(merge(boot_base(), merge({{required("method"), literal(method, msg)}}, fields)));
    }

    Schema testdef() const { return map(testdef_fields(strict_), MapOptions{!strict_, {}}); }

    std::map<std::string, Schema> deploys() const {
        std::map<std::string, Schema> d;
        const Schema url_plain = url();
        d["docker"] = deploy("docker", {{required("image"),
                                         any({match(kDockerImagePattern, "Invalid docker image name"),
                                              m(docker("name"))})},
                                        {optional("repeat"), range(1, std::nullopt)}});
        d["download"] = deploy("download", {{required("images"), images(url_plain)}});
        d["downloads"] = deploy(
            "downloads", {{required("images"), images(url_plain)},
                          {optional("postprocess"),
                           m({{required("docker"),
                               m(merge(docker(), {{required("steps"), list({str()})}}))}})}});
        d["fastboot"] = deploy(
            "fastboot",
            {{required("images"),
              images(url({{optional("apply-overlay"), boolean()},
                          {optional("root_partition"), range(0, std::nullopt)},
                          {optional("sparse"), boolean()},
                          {optional("reboot"), lits({"hard-reset", "fastboot-reboot",
                                                     "fastboot-reboot-bootloader",
                                                     "fastboot-reboot-fastboot"})}}))},
             {optional("docker"), m(docker())},
             {optional("connection"), literal("lxc")}});
        d["flasher"] = deploy("flasher", {{required("images"), m({{optional(str()), url_plain}})}});
        d["fvp"] = deploy("fvp", {{optional("ramdisk"), m({{optional("install_overlay"), boolean()},
                                                           {optional("compression"), str()},
                                                           {optional("header"), literal("u-boot")}})},
                                  {optional("uniquify"), boolean()},
                                  {required("images"), images(url_plain)}});
        d["iso-installer"] = deploy(
            "iso-installer",
            {{required("images"), m({{required("iso"), url({{optional("image_arg"), str()}})},
                                     {required("preseed"), url_plain}})},
             {required("iso"), m({{required("installation_size"), str()},
                                  {optional("kernel"), str()},
                                  {optional("initrd"), str()}})}});
        d["lxc"] = deploy("lxc", {{optional("packages"), list({str()})}});
        d["mps"] = deploy(
            "mps", {{required("images"),
                     all({m({{optional("recovery_image"), url_plain},
                             {optional(match("test_binary(_\\w+)?$")),
                              url({{optional("rename"), str()}})}}),
                          length(1, std::nullopt)})}});
        d["musca"] = deploy("musca", {{required("images"),
                                       m({{required("test_binary", "'images' has no 'test_binary' entry"),
                                           url_plain}})}});
        Fields nfs_common = merge(deploy_base(), {{required("to"), literal("nfs")}});
        d["nfs"] = any({m(merge(nfs_common, {{optional("nfsrootfs"), url_plain},
                                             {optional("modules"), url_plain}})),
                        m(merge(nfs_common, {{required("images"),
                                              images(url({{optional("image_arg"), str()}}))}}))});
        d["nbd"] = deploy("nbd", {{required("kernel", "needs a kernel to deploy"),
                                   url({{optional("type"), lits({"image", "uimage", "zimage"})}})},
                                  {required("nbdroot"), url_plain},
                                  {required("initrd"), url_plain},
                                  {optional("dtb"), url_plain}});
        d["overlay"] = deploy("overlay", {});
        d["recovery"] = deploy("recovery", {{required("images"), images(url_plain)}});
        const Fields usb_fields = {
            {required("to"), lits({"sata", "sd", "usb"})},
            {exclusive("images", "image"), m({{required("image"), url_plain},
                                              {optional(str()), url_plain}})},
            {exclusive("image", "image"), url_plain},
            {required("device"), str()},
            {optional("download"), m({{required("tool"), str()},
                                      {required("options"), str()},
                                      {required("prompt"), str()}})},
            {optional("writer"), m({{required("tool"), str()},
                                    {required("options"), str()},
                                    {required("prompt"), str()}})},
            {optional("tool"), m({{required("prompts"), list({str()})}})},
            {optional("uniquify"), boolean()}};
        d["sata"] = m(merge(deploy_base(), usb_fields));
        d["usb"] = m(merge(deploy_base(), usb_fields));
        d["ssh"] = deploy("ssh", {{optional("firmware"), url_plain},
                                  {optional("kernel"), url_plain},
                                  {optional("rootfs"), url_plain},
                                  {optional("modules"), url_plain}});
        d["tftp"] = deploy(
            "tftp",
            {{required("kernel", "needs a kernel to deploy"),
              url({{optional("type"), lits({"image", "uimage", "zimage"})}})},
             {optional("dtb"), url_plain},
             {optional("modules"), url_plain},
             {optional("preseed"), url_plain},
             {optional("ramdisk"), url({{optional("install_modules"), boolean()},
                                        {optional("install_overlay"), boolean()},
                                        {optional("header"), literal("u-boot")}})},
             {exclusive("nfsrootfs", "nfs"), url({{optional("install_modules"), boolean()},
                                                  {optional("install_overlay"), boolean()},
                                                  {optional("prefix"), str()}})},
             {exclusive("persistent_nfs", "nfs"), m({{required("address"), str()},
                                                     {optional("install_overlay"), boolean()}})},
             {optional("tee"), url_plain}});
        d["tmpfs"] = deploy("tmpfs", {{required("images"),
                                       images(url({{optional("format"), literal("qcow2")},
                                                   {optional("image_arg"), str()}}))},
                                      {optional("type"), literal("monitor")},
                                      {optional("uefi"), url_plain}});
        d["u-boot-ums"] = deploy("u-boot-ums",
                                 {{required("image"), url({{optional("root_partition"),
                                                            range(0, std::nullopt)}})}});
        d["uuu"] = deploy(
            "uuu", {{required("images"),
                     all({m({{required("boot"), url_plain},
                             {optional(str()), url({{optional("apply-overlay"), boolean()},
                                                    {optional("root_partition"),
                                                     range(0, std::nullopt)}})}}),
                          length(1, std::nullopt)})}});
        d["vemsd"] = deploy("vemsd", {{required("recovery_image"), url_plain}});
        return d;
    }

    std::map<std::string, Schema> boots() const {
        std::map<std::string, Schema> b;
        const Fields login = {{optional("prompts"), prompts()},
                              {optional("auto_login"), auto_login()},
                              {optional("transfer_overlay"), transfer_overlay()}};
        b["barebox"] = boot("barebox", merge({{required("commands"), str_or_list()}}, login));
        b["bootloader"] = boot("bootloader", {{required("bootloader"), str()},
                                              {required("commands"), list({str()})},
                                              {optional("use_bootscript"), boolean()},
                                              {optional("prompts"), prompts()}});
        for (const char* bare : {"cmsis-dap", "dfu", "jlink", "monitor", "openocd", "pyocd"}) {
            b[bare] = boot(bare, {});
        }
        b["depthcharge"] = boot("depthcharge",
                                merge({{required("commands"), str_or_list()},
                                       {optional("extra_kernel_args"), str()},
                                       {optional("use_bootscript"), boolean()}},
                                      login));
        b["docker"] = boot("docker", {{required("command"), str()},
                                      {optional("prompts"), prompts()},
                                      {optional("downloads-namespace"), str()}});
        b["fastboot"] = boot("fastboot", merge({{optional("commands"), list({str()})},
                                                {optional("use_bootscript"), boolean()},
                                                {optional("docker"), m(docker())}},
                                               login));
        b["fvp"] = boot("fvp", {{optional("use_telnet"), boolean()},
                                {required("console_string"), str()},
                                {optional("feedbacks"), list({str()})},
                                {required("image"), str()},
                                {optional("license_variable"), str()},
                                {optional("version_string"), str()},
                                {required("arguments"), list({str()})},
                                {required("prompts"), prompts()},
                                {required("docker"), m(docker("name"))},
                                {optional("transfer_overlay"), transfer_overlay()},
                                {optional("auto_login"), auto_login()}});
        b["gdb"] = boot("gdb", {{required("commands"), str()}, {optional("container"), str()}});
        const Fields grub = merge({{required("commands"), str_or_list()},
                                   {optional("boot_finished"), str_or_list()},
                                   {optional("expect_shell"), boolean()},
                                   {optional("use_bootscript"), boolean()}},
                                  login);
        b["grub"] = boot("grub", grub);
        b["grub-efi"] = boot("grub-efi", grub);
        b["ipxe"] = boot("ipxe", merge({{required("commands"), str_or_list()},
                                        {optional("use_bootscript"), boolean()}},
                                       login));
        b["kexec"] = boot("kexec", merge({{required("boot_message"), str()},
                                          {optional("deploy"), boolean()},
                                          {optional("command"), str()},
                                          {optional("kernel"), str()},
                                          {optional("dtb"), str()},
                                          {optional("initrd"), str()},
                                          {optional("options"), list({str()})},
                                          {optional("kernel-config"), str()},
                                          {optional("on_panic"), boolean()}},
                                         login));
        b["lxc"] = boot("lxc", {{required("prompts"), prompts()}});
        b["minimal"] = boot("minimal", merge({{optional("pre_power_command"), boolean()},
                                              {optional("pre_os_command"), boolean()},
                                              {optional("reset"), boolean()}},
                                             login));
        b["musca"] = boot("musca", {{optional("prompts"), prompts()}});
        b["new_connection"] = boot("new_connection",
                                   merge({{required("connection"), str()}}, login));
        b["qemu"] = boot("qemu", merge({{optional("connection"), literal("serial")},
                                        {optional("media"), literal("tmpfs")},
                                        {optional("docker"),
                                         m(merge(docker(), {{optional("binary"), str()}}))}},
                                       login));
        b["qemu-iso"] = boot("qemu-iso", {{required("media"), literal("img")},
                                          {optional("prompts"), prompts()},
                                          {optional("auto_login"), auto_login()}});
        b["qemu-nfs"] = boot("qemu-nfs",
                             merge({{optional("connection"), literal("serial")}}, login));
        b["recovery"] = boot("recovery", {{required("commands"), lits({"recovery", "exit"})}});
        b["schroot"] = boot("schroot", {{optional("prompts"), prompts()},
                                        {required("connection"), literal("ssh")},
                                        {required("schroot"), str()}});
        b["ssh"] = boot("ssh", {{optional("prompts"), prompts()},
                                {required("connection"), literal("ssh")},
                                {optional("parameters"), m({{optional("hostID"), str()},
                                                            {optional("host_key"), str()}})}});
        b["u-boot"] = boot("u-boot", merge({{required("commands"), str_or_list()},
                                            {optional("use_bootscript"), boolean()}},
                                           login));
        b["uefi"] = boot("uefi", {{required("commands"), str_or_list()},
                                  {optional("shell_menu"), str()},
                                  {optional("prompts"), prompts()},
                                  {optional("auto_login"), auto_login()}});
        b["uefi-menu"] = boot("uefi-menu", {{optional("commands"), str()},
                                            {optional("line_separator"), str()},
                                            {optional("prompts"), prompts()},
                                            {optional("auto_login"), auto_login()}});
        b["uuu"] = boot("uuu", {{required("commands"),
                                 any({str(), list({m({{optional(str()), str()}})})})},
                                {optional("docker"), m(docker())}});
        return b;
    }

    Fields test_definitions() const {
        const Fields common = {
            {required("path"), str()},
            {required("name"), match(kNamePattern)},
            {optional("skip_install"),
             list({lits({"keys", "sources", "deps", "steps", "git-repos", "all"})})},
            {optional("lava-signal"), lits({"kmsg", "stdout"})}};
        const Schema git = m(merge({{required("repository"), str()},
                                    {required("from"), literal("git")},
                                    {optional("branch"), str()},
                                    {optional("history"), boolean()},
                                    {optional("revision"), str()},
                                    {optional("parameters"), dict()},
                                    {optional("params"), dict()}},
                                   common));
        const Schema from_url = m(merge({{required("repository"), str()},
                                         {required("from"), literal("url")},
                                         {required("compression"), str()},
                                         {optional("parameters"), dict()},
                                         {optional("params"), dict()}},
                                        common));
        const Schema inline_def = m(merge({{required("repository"), testdef()},
                                           {required("from"), literal("inline")}},
                                          common));
        return merge(action(), {{required("definitions"), list({git, from_url, inline_def})}});
    }

    Schema test_definition() const { return m(test_definitions()); }
    Schema test_docker() const {
        return m(merge(test_definitions(), {{required("docker"), m(docker())},
                                            {optional("downloads-namespace"), str()}}));
    }
    Schema test_interactive() const {
        const Schema name = match(kNamePattern);
        const Schema nonempty = all({str(), length(1, std::nullopt)});
        return m(merge(
            action(),
            {{required("interactive"),
              list({m({{required("name"), name},
                       {required("prompts"), list({nonempty})},
                       {optional("echo"), literal("discard")},
                       {required("script"),
                        list({m({{optional("command"), any({str(), literal(Value::none())})},
                                 {optional("delay"), integer()},
                                 {optional("lava-send"), str()},
                                 {optional("lava-sync"), str()},
                                 {optional("lava-wait"), str()},
                                 {optional("lava-wait-all"), str()},
                                 {optional("name"), name},
                                 {optional("wait_for_prompt"), boolean()},
                                 {optional("successes"),
                                  list({m({{required("message"), nonempty}})})},
                                 {optional("failures"),
                                  list({m({{required("message"), nonempty},
                                           {optional("exception"),
                                            lits({"InfrastructureError", "JobError", "TestError"})},
                                           {optional("error"), nonempty}})})}})})}})})}}));
    }
    Schema test_monitor() const {
        return m(merge(action(), {{required("monitors"),
                                   list({m({{required("name"), match(kNamePattern)},
                                            {required("start"), str()},
                                            {required("end"), str()},
                                            {required("pattern"), str()},
                                            {optional("fixupdict"),
                                             m({{optional(str()),
                                                 lits({"pass", "fail", "skip", "unknown"})}})}})})}}));
    }
    Schema command() const { return m(merge(action(), {{required("name"), str()}})); }

    Schema job(const std::vector<std::string>& variables) const {
        const Schema ctx = context(variables);
        const Schema lxc = m({{required("name"), str()},
                              {required("distribution"), str()},
                              {required("release"), str()},
                              {optional("arch"), str()},
                              {optional("mirror"), str()},
                              {optional("persist"), boolean()},
                              {optional("security_mirror"), str()},
                              {optional("template"), str()},
                              {optional("timeout"), timeout()},
                              {optional("verbose"), boolean()}});
        const Schema role = any(
            {m({{required("device_type"), str()},
                {required("count"), range(0, std::nullopt)},
                {optional("context"), ctx},
                {optional("tags"), list({str()})},
                {optional("environment"), dict()},
                {optional("essential"), boolean()},
                {optional("timeout"), timeout()}}),
             m({{required("connection"), str()},
                {required("count"), range(0, std::nullopt)},
                {required("expect_role"), str()},
                {required("host_role"), str()},
                {optional("essential"), boolean()},
                {optional("request"), str()},
                {optional("tags"), list({str()})},
                {optional("timeout"), timeout()},
                {optional("context"), ctx}})});
        const Schema callback = m({{required("url"), str()},
                                   {optional("method"), lits({"GET", "POST"})},
                                   {optional("token"), str()},
                                   {optional("header"), str()},
                                   {optional("dataset"), lits({"minimal", "logs", "results", "all"})},
                                   {optional("content-type"), lits({"json", "urlencoded"})}});
        const Schema notify = m(
            {{required("criteria"),
              any({m({{required("status"), literal("all")}}),
                   m({{required("status"),
                       lits({"finished", "running", "complete", "canceled", "incomplete"})},
                      {optional("dependency_query"), str()}}),
                   m({{required("status"), lits({"complete", "incomplete"})},
                      {optional("type"), lits({"regression", "progression"})}})})},
             {optional("verbosity"), lits({"verbose", "quiet", "status-only"})},
             {optional("recipients"),
              list({m({{required("to"), m({{required("method"), lits({"email", "irc"})},
                                           {optional("user"), str()},
                                           {optional("email"), str()},
                                           {optional("handle"), str()},
                                           {optional("server"), str()}})}})})},
             {exclusive("callback", "callback"), callback},
             {exclusive("callbacks", "callback"), list({callback})},
             {optional("compare"),
              m({{optional("blacklist"), list({str()})},
                 {optional("query"),
                  any({m({{required("username"), str()}, {required("name"), str()}}),
                       m({{required("entity"), str()},
                          {optional("conditions"), m({{optional(str()), str()}})}})})}})}});
        const Schema name_text = all({str(), length(1, 200)});
        return m(
            {{required("job_name"), name_text},
             {optional("device_type"), name_text},
             {required("timeouts"), m({{required("job"), timeout()},
                                       {optional("action"), timeout()},
                                       {optional("actions"), m({{optional(str()), timeout()}})},
                                       {optional("connection"), timeout()},
                                       {optional("connections"), m({{optional(str()), timeout()}})},
                                       {optional("queue"), timeout()}})},
             {required("visibility"),
              any({literal("public"), literal("personal"), m({{optional("group"), list({str()})}})})},
             {optional("context"), ctx},
             {optional("metadata"), m({{optional(str()), anything()}})},
             {optional("priority"), any({literal("high"), literal("medium"), literal("low"),
                                         range(0, 100)})},
             {optional("tags"), list({str()})},
             {optional("secrets"), dict()},
             {optional("environment"), dict()},
             {optional("protocols"),
              m({{optional("lava-lxc"), any({lxc, m({{optional(str()), lxc}})})},
                 {optional("lava-multinode"),
                  m({{required("roles"), m({{optional(str()), role}})},
                     {optional("timeout"), timeout()}})},
                 {optional("lava-vland"),
                  any({m({{optional(str()),
                           m({{optional(str()), m({{required("tags"), list({str()})}})}})}}),
                       m({{optional(str()), m({{required("tags"), list({str()})}})}})})},
                 {optional("lava-xnbd"), m({{required("port"), any({literal("auto"), integer()})},
                                            {optional("timeout"), timeout()}})}})},
             {optional("notify"), notify},
             {optional("reboot_to_fastboot"), boolean()},
             {required("actions"),
              list({m({{optional(lits({"boot", "command", "deploy", "test"})), dict()}})})}});
    }

    static std::string join(const std::vector<std::string>& v) {
        std::string out;
        for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
        return out;
    }

private:
    bool strict_;
};

// The method schemas of one mode, built once.
struct MethodSchemas {
    std::map<std::string, Schema> deploy, boot;
    Schema test_definition, test_docker, test_interactive, test_monitor, command;
};

const MethodSchemas& methods(bool strict) {
    static const MethodSchemas kStrict = [] {
        Builder b(true);
        return MethodSchemas{b.deploys(), b.boots(), b.test_definition(), b.test_docker(),
                             b.test_interactive(), b.test_monitor(), b.command()};
    }();
    static const MethodSchemas kLenient = [] {
        Builder b(false);
        return MethodSchemas{b.deploys(), b.boots(), b.test_definition(), b.test_docker(),
                             b.test_interactive(), b.test_monitor(), b.command()};
    }();
    return strict ? kStrict : kLenient;
}

std::vector<std::string> keys_of(const std::map<std::string, Schema>& m) {
    std::vector<std::string> out;
    for (const auto& [k, v] : m) out.push_back(k);
    return out;
}

void add(Issues& out, std::string path, std::string message, data::Mark mark) {
    out.push_back(Issue{std::move(path), std::move(message), mark});
}

// LAVA's extra_checks: each runs only on the parts that passed the schema.
void check_timeouts(const Value& job, Issues& out) {
    const Value* timeouts = job.find("timeouts");
    if (!timeouts || !timeouts->is_dict()) return;
    const Value* job_timeout = timeouts->find("job");
    auto job_limit = job_timeout ? parse_timeout(*job_timeout) : std::nullopt;
    if (!job_limit) return;
    auto check = [&](const std::string& path, const Value* t, const char* prefix) {
        if (!t) return;
        if (auto d = parse_timeout(*t); d && *d > *job_limit) {
            add(out, path, std::string(prefix) + " timeout is larger than job timeout", t->mark);
        }
    };
    check("timeouts.action", timeouts->find("action"), "Global");
    check("timeouts.connection", timeouts->find("connection"), "Global");
    for (const char* group : {"actions", "connections"}) {
        const Value* named = timeouts->find(group);
        if (!named || !named->is_dict()) continue;
        for (const auto& [k, v] : named->as_dict()) {
            check(std::string("timeouts.") + group + "." + k.str(), &v, "Global");
        }
    }
    const Value* actions = job.find("actions");
    if (!actions || !actions->is_list()) return;
    for (std::size_t i = 0; i < actions->as_list().size(); ++i) {
        const Value& action = actions->as_list()[i];
        if (!action.is_dict() || action.as_dict().empty()) continue;
        const auto& [type, body] = action.as_dict().front();
        check("actions[" + std::to_string(i) + "]." + type.str() + ".timeout", body.find("timeout"),
              "Action");
    }
}

void check_multinode(const Value& job, Issues& out) {
    const Value* protocols = job.find("protocols");
    const Value* multinode = protocols ? protocols->find("lava-multinode") : nullptr;
    const bool is_multinode = multinode && multinode->truthy();
    for (const char* extra : {"device_type", "environment", "context", "tags"}) {
        const Value* v = job.find(extra);
        const bool present = v && v->truthy();
        if (present && is_multinode) {
            add(out, extra, std::string("\"") + extra + "\" should not be used with multinode",
                v->mark);
        }
        if (std::string_view(extra) == "device_type" && !present && !is_multinode) {
            add(out, "device_type", "\"device_type\" or multinode should be defined", job.mark);
        }
    }
    if (!is_multinode) return;
    const Value* actions = job.find("actions");
    if (!actions || !actions->is_list()) return;
    for (std::size_t i = 0; i < actions->as_list().size(); ++i) {
        const Value& action = actions->as_list()[i];
        if (!action.is_dict() || action.as_dict().empty()) continue;
        const auto& [type, body] = action.as_dict().front();
        if (body.is_dict() && !body.contains("role")) {
            add(out, "actions[" + std::to_string(i) + "]." + type.str() + ".role",
                "Every action of a multinode job should have roles", body.mark);
        }
    }
}

// Names and paths a job supplies that lava-run joins to its directories
// must stay inside them (lenient or strict: this is not LAVA's schema but
// the worker host's safety), and what git would read as options is refused.
void check_paths(const Value& job, Issues& out) {
    const Value* actions = job.find("actions");
    if (!actions || !actions->is_list()) return;
    for (std::size_t i = 0; i < actions->as_list().size(); ++i) {
        const Value& action = actions->as_list()[i];
        if (!action.is_dict() || action.as_dict().size() != 1) continue;
        const auto& [type, body] = action.as_dict().front();
        const std::string at = "actions[" + std::to_string(i) + "]." + type.str();
        if (type.str() == "deploy") {
            const Value* images = body.find("images");
            if (!images || !images->is_dict()) continue;
            for (const auto& [label, image] : images->as_dict()) {
                if (!label.is_str()) continue;
                if (auto problem = file_name_problem(label.as_str()); !problem.empty()) {
                    add(out, at + ".images." + label.as_str(), "the image name " + problem, label.mark);
                }
            }
            continue;
        }
        const Value* definitions = type.str() == "test" ? body.find("definitions") : nullptr;
        if (!definitions || !definitions->is_list()) continue;
        for (std::size_t j = 0; j < definitions->as_list().size(); ++j) {
            const Value& d = definitions->as_list()[j];
            const std::string where = at + ".definitions[" + std::to_string(j) + "]";
            if (const Value* path = d.find("path"); path && path->is_str()) {
                if (auto problem = relative_path_problem(path->as_str()); !problem.empty()) {
                    add(out, where + ".path", "the path " + problem, path->mark);
                }
            }
            // (Names: the schema's pattern, in both modes, allows no '/'.)
            for (const char* key : {"revision", "branch"}) {
                const Value* v = d.find(key);
                if (v && v->is_str() && !v->as_str().empty() && v->as_str().front() == '-') {
                    add(out, where + "." + key, std::string("a git ") + key + " may not start with '-'", v->mark);
                }
            }
        }
    }
}

void check_namespaces(const Value& job, Issues& out) {
    const Value* actions = job.find("actions");
    if (!actions || !actions->is_list()) return;
    std::size_t with_ns = 0;
    for (const auto& action : actions->as_list()) {
        if (!action.is_dict() || action.as_dict().empty()) continue;
        const Value* ns = action.as_dict().front().second.find("namespace");
        if (ns && !ns->is_none()) ++with_ns;
    }
    if (with_ns && with_ns != actions->as_list().size()) {
        add(out, "actions", "When using namespaces, every action should have a namespace",
            actions->mark);
    }
}

}  // namespace

const std::vector<std::string>& context_variables() { return kContextVariables; }

const std::vector<std::string>& deploy_methods() {
    static const auto kDeploy = keys_of(methods(true).deploy);
    return kDeploy;
}

const std::vector<std::string>& boot_methods() {
    static const auto kBoot = keys_of(methods(true).boot);
    return kBoot;
}

JobValidator::JobValidator(Strictness strictness, std::vector<std::string> extra_context_variables)
    : strict_(strictness == Strictness::kStrict) {
    auto variables = kContextVariables;
    variables.insert(variables.end(), extra_context_variables.begin(),
                     extra_context_variables.end());
    job_ = Builder(strict_).job(variables);
}

JobCheck JobValidator::check_yaml(std::string_view yaml) const {
    JobCheck result;
    auto doc = yaml::load_with_mark(yaml);
    if (!doc) {
        result.issues.push_back(Issue{"", "invalid YAML: " + doc.error().problem, doc.error().mark});
        return result;
    }
    result.document = std::move(*doc);
    result.issues = check(result.document);
    return result;
}

Issues JobValidator::check(const Value& job) const {
    Issues out;
    if (!job.is_dict()) {
        add(out, "", "a job definition must be a mapping of keys to values", job.mark);
        return out;
    }
    out = validate(job_, job);
    if (const Value* actions = job.find("actions"); actions && actions->is_list()) {
        for (std::size_t i = 0; i < actions->as_list().size(); ++i) {
            check_action(actions->as_list()[i], i, out);
        }
    }
    check_timeouts(job, out);
    check_multinode(job, out);
    check_namespaces(job, out);
    check_paths(job, out);
    return out;
}

void JobValidator::check_action(const Value& action, std::size_t index, Issues& out) const {
    const std::string at = "actions[" + std::to_string(index) + "]";
    if (!action.is_dict()) return;  // reported by the job schema
    if (action.as_dict().empty()) {
        add(out, at, "an action must have one of the keys deploy, boot, test, command",
            action.mark);
        return;
    }
    if (action.as_dict().size() > 1) {
        // LAVA would silently validate and run only the first key; a second key
        // in one list item is an indentation mistake.
        std::string keys;
        for (const auto& [k, v] : action.as_dict()) keys += (keys.empty() ? "" : ", ") + k.str();
        add(out, at, "an action item must have exactly one key, found: " + keys +
                         " (is a '-' missing before the second action?)",
            action.as_dict()[1].first.mark);
        return;
    }
    const auto& [type_key, body] = action.as_dict().front();
    if (!body.is_dict()) return;  // reported by the job schema
    const std::string type = type_key.is_str() ? type_key.as_str() : type_key.repr();
    const auto& schemas = methods(strict_);
    auto path_for = [&](schema::Path& p) {
        p.push(at);
        p.push(type);
    };
    Schema chosen;
    if (type == "deploy" || type == "boot") {
        const char* selector = type == "deploy" ? "to" : "method";
        const auto& table = type == "deploy" ? schemas.deploy : schemas.boot;
        const Value* method = body.find(selector);
        std::string name = method && method->is_str() ? method->as_str() : "";
        // LAVA picks the schema module by name with '-' read as '_'.
        std::string module = name;
        std::replace(module.begin(), module.end(), '_', '-');
        auto it = table.find(module);
        if (it == table.end() && module == "new-connection") it = table.find("new_connection");
        if (it == table.end()) {
            std::string known;
            for (const auto& [k, v] : table) known += (known.empty() ? "" : ", ") + k;
            add(out, at + "." + type + "." + selector,
                (method ? "unknown " + type + " method " + method->repr()
                        : std::string("missing '") + selector + "'") +
                    "; known: " + known,
                method ? method->mark : body.mark);
            return;
        }
        chosen = it->second;
    } else if (type == "test") {
        if (body.contains("definitions")) {
            chosen = body.contains("docker") ? schemas.test_docker : schemas.test_definition;
        } else if (body.contains("interactive")) {
            chosen = schemas.test_interactive;
        } else if (body.contains("monitors")) {
            chosen = schemas.test_monitor;
        } else {
            add(out, at + ".test",
                "a test action needs one of 'definitions', 'interactive' or 'monitors'", body.mark);
            return;
        }
    } else if (type == "command") {
        chosen = schemas.command;
    } else {
        // In strict mode the job schema already reported the unknown key.
        if (!strict_) add(out, at + "." + type, "invalid action", type_key.mark);
        return;
    }
    schema::Path path;
    path_for(path);
    chosen->check(body, path, out);
}

}  // namespace lava::common::job
