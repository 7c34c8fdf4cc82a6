#include "worker/run/overlay.hpp"

#include "common/base/file.hpp"
#include "common/base/text.hpp"
#include "common/yaml/dump.hpp"
#include "common/yaml/load.hpp"
#include "worker/run/command.hpp"
#include "worker/run/download.hpp"
#include "worker/run/job_error.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>

namespace lava::worker::run {

namespace data = common::data;
namespace fs = std::filesystem;

// ------------------------------------------------------------ helper scripts
//
// Our own POSIX sh implementations of LAVA's helpers (same names, options and
// printed signals; lava-protocols.md §10.1-10.2). Busybox ash runs them.

const std::vector<std::pair<std::string, std::string>>& helper_scripts() {
    static const std::vector<std::pair<std::string, std::string>> scripts = {
        {"lava-common-functions", R"SH(# Sourced by the other helpers: how a signal reaches the dispatcher.
lava_signal() {
    if [ -n "${KMSG:-}" ]; then
        echo "<0>$1" > /dev/kmsg
    else
        echo "$1"
    fi
}
signal() { lava_signal "$1"; }
)SH"},
        {"lava-test-runner", R"SH(# lava-test-runner STAGE_DIR: runs each test directory listed in
# STAGE_DIR/lava-test-runner.conf (install.sh, then run.sh under
# lava-test-shell) and always ends with <LAVA_TEST_RUNNER EXIT>.
set +x
stage=${1:-/lava}
bindir=$(cd "$stage/../bin" && pwd)
. "$bindir/lava-common-functions"
trap 'lava_signal "<LAVA_TEST_RUNNER EXIT>"' EXIT
trap 'exit 1' INT TERM
export PATH="$bindir:$PATH"
mkdir -p "$stage/results"
# Renamed first, so a reboot does not run the same tests again.
conf="$stage/lava-test-runner.conf-$(date +%s)"
mv "$stage/lava-test-runner.conf" "$conf" || exit 1
[ -n "${SHELL:-}" ] || SHELL=/bin/sh
for dir in $(grep -v LAVA_SIGNAL "$conf"); do
    out="$stage/results/$(basename "$dir")-$(date +%s)"
    mkdir -p "$out"
    if [ -f "$dir/install.sh" ]; then
        /bin/sh "$dir/install.sh"
        rc=$?
        echo "$rc" > "$out/install_return_code"
        if [ "$rc" -ne 0 ]; then
            lava_signal "<LAVA_TEST_RUNNER INSTALL_FAIL>"
            continue
        fi
    fi
    lava-test-shell --output_dir "$out" "$SHELL" -e "$dir/run.sh"
done
)SH"},
        {"lava-test-shell", R"SH(# lava-test-shell --output_dir DIR COMMAND...: runs COMMAND with
# LAVA_RESULT_DIR=DIR and keeps its exit code in DIR/return_code.
[ "$1" = "--output_dir" ] && shift
LAVA_RESULT_DIR=$1
shift
export LAVA_RESULT_DIR
"$@"
echo $? > "$LAVA_RESULT_DIR/return_code"
)SH"},
        {"lava-test-case", R"SH(# lava-test-case ID --result pass|fail|skip|unknown [--units U] [--measurement M]
# lava-test-case ID --shell COMMAND...   (pass when COMMAND exits 0)
. lava-common-functions
usage() {
    echo "Usage: lava-test-case TEST_CASE_ID --shell cmds ..."
    echo "   or: lava-test-case TEST_CASE_ID --result RESULT [--units UNITS] [--measurement MEASUREMENT]"
}
TEST_CASE_ID=$1
export TEST_CASE_ID
[ $# -gt 0 ] && shift
if [ -z "$TEST_CASE_ID" ]; then usage; exit 1; fi
unset RESULT UNITS MEASUREMENT
if [ "$1" = "--shell" ]; then
    shift
    lava_signal "<LAVA_SIGNAL_STARTTC $TEST_CASE_ID>"
    eval "$*"
    rc=$?
    lava_signal "<LAVA_SIGNAL_ENDTC $TEST_CASE_ID>"
    if [ $rc -eq 0 ]; then RESULT=pass; else RESULT=fail; fi
else
    while [ $# -gt 0 ]; do
        case "$1" in
            --result) RESULT=$2; shift 2 ;;
            --units) UNITS=$2; shift 2 ;;
            --measurement) MEASUREMENT=$2; shift 2 ;;
            *) usage; exit 1 ;;
        esac
    done
fi
if [ -z "${RESULT+x}" ]; then echo "--result must be specified"; exit 1; fi
dir="${LAVA_RESULT_DIR:-/tmp}/results/$TEST_CASE_ID"
mkdir -p "$dir" 2>/dev/null
fields="RESULT=$RESULT"
echo "$RESULT" > "$dir/result" 2>/dev/null
if [ -n "${UNITS+x}" ]; then fields="$fields UNITS=$UNITS"; echo "$UNITS" > "$dir/units" 2>/dev/null; fi
if [ -n "${MEASUREMENT+x}" ]; then fields="$fields MEASUREMENT=$MEASUREMENT"; echo "$MEASUREMENT" > "$dir/measurement" 2>/dev/null; fi
lava_signal "<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=$TEST_CASE_ID $fields>"
# A failing --shell command is a failed test case, not a failed helper.
exit 0
)SH"},
        {"lava-test-set", R"SH(# lava-test-set start NAME | lava-test-set stop
. lava-common-functions
case "$1" in
    start) [ -n "$2" ] || { echo "Usage: lava-test-set start NAME"; exit 1; }
           lava_signal "<LAVA_SIGNAL_TESTSET START $2>" ;;
    stop) lava_signal "<LAVA_SIGNAL_TESTSET STOP>" ;;
    *) echo "Usage: lava-test-set start NAME | stop"; exit 1 ;;
esac
)SH"},
        {"lava-test-reference", R"SH(# lava-test-reference ID --result RESULT --reference URL
. lava-common-functions
id=$1
[ $# -gt 0 ] && shift
while [ $# -gt 0 ]; do
    case "$1" in
        --result) result=$2; shift 2 ;;
        --reference) reference=$2; shift 2 ;;
        *) echo "Usage: lava-test-reference ID --result RESULT --reference URL"; exit 1 ;;
    esac
done
if [ -z "$id" ] || [ -z "$result" ] || [ -z "$reference" ]; then
    echo "Usage: lava-test-reference ID --result RESULT --reference URL"; exit 1
fi
lava_signal "<LAVA_SIGNAL_TESTREFERENCE $id $result $reference>"
)SH"},
        {"lava-test-raise", R"SH(# lava-test-raise MESSAGE: ends the job with a Test error.
. lava-common-functions
[ -n "$1" ] || { echo "Usage: lava-test-raise MESSAGE"; exit 1; }
lava_signal "<LAVA_SIGNAL_TESTRAISE $*>"
)SH"},
        {"lava-test-event", R"SH(# lava-test-event NAME: an event in the job log (and on the event bus).
. lava-common-functions
[ -n "$1" ] || { echo "Usage: lava-test-event NAME"; exit 1; }
lava_signal "<LAVA_SIGNAL_TESTEVENT $*>"
)SH"},
        {"lava-test-feedback", R"SH(# lava-test-feedback -n NAMESPACE: asks for another namespace's console output.
. lava-common-functions
[ "$1" = "-n" ] && shift
[ -n "$1" ] || { echo "Usage: lava-test-feedback -n NAMESPACE"; exit 1; }
lava_signal "<LAVA_SIGNAL_TESTFEEDBACK $1>"
)SH"},
        {"lava-background-process-start", R"SH(# lava-background-process-start NAME --cmd "COMMAND"
name=$1
[ $# -gt 0 ] && shift
[ "$1" = "--cmd" ] && shift
if [ -z "$name" ] || [ -z "$1" ]; then echo "Usage: lava-background-process-start NAME --cmd COMMAND"; exit 1; fi
mkdir -p /tmp/lava-background
sh -c "$1" > "/tmp/lava-background/$name.log" 2>&1 &
echo $! > "/tmp/lava-background/$name.pid"
)SH"},
        {"lava-background-process-stop", R"SH(# lava-background-process-stop NAME: stops it and prints its output.
name=$1
[ -n "$name" ] || { echo "Usage: lava-background-process-stop NAME"; exit 1; }
pidfile="/tmp/lava-background/$name.pid"
[ -f "$pidfile" ] || { echo "no background process $name"; exit 1; }
kill "$(cat "$pidfile")" 2>/dev/null
cat "/tmp/lava-background/$name.log" 2>/dev/null
rm -f "$pidfile"
)SH"},
        {"lava-echo-ipv4", R"SH(# lava-echo-ipv4 IFACE: the interface's IPv4 address.
[ -n "$1" ] || { echo "Usage: lava-echo-ipv4 IFACE"; exit 1; }
ip -4 addr show dev "$1" 2>/dev/null | sed -n 's/.*inet \([0-9.]*\).*/\1/p' | head -1
)SH"},
        {"lava-target-ip", R"SH(# lava-target-ip: the DUT's first non-loopback IPv4 address.
ip -4 addr show 2>/dev/null | sed -n 's/.*inet \([0-9.]*\).*/\1/p' | grep -v '^127\.' | head -1
)SH"},
        {"lava-target-mac", R"SH(# lava-target-mac: the MAC address of the interface with the default route.
iface=$(ip route show default 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -1)
[ -n "$iface" ] && cat "/sys/class/net/$iface/address"
)SH"},
        {"lava-target-storage", R"SH(# lava-target-storage: the block devices of the DUT.
ls /sys/block 2>/dev/null
)SH"},
        {"lava-os-build", R"SH(# lava-os-build: the DUT's OS name and version.
if [ -f /etc/os-release ]; then . /etc/os-release; echo "${PRETTY_NAME:-$NAME}"; else uname -a; fi
)SH"},
        {"lava-install-packages", R"SH(# lava-install-packages PACKAGE...: with the DUT's package manager.
if command -v apt-get >/dev/null; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
elif command -v dnf >/dev/null; then dnf install -y "$@"
elif command -v opkg >/dev/null; then opkg install "$@"
elif command -v apk >/dev/null; then apk add "$@"
else echo "lava-install-packages: no package manager on this DUT"; exit 1
fi
)SH"},
        {"lava-installed-packages", R"SH(# lava-installed-packages: the packages installed on the DUT.
if command -v dpkg-query >/dev/null; then dpkg-query -W -f '${Package} ${Version}\n'
elif command -v rpm >/dev/null; then rpm -qa
elif command -v opkg >/dev/null; then opkg list-installed
fi
)SH"},
        {"lava-add-keys", R"SH(# lava-add-keys KEY...: apt keys (Debian-based DUTs only).
command -v apt-key >/dev/null || { echo "lava-add-keys: apt-key not found"; exit 1; }
for key in "$@"; do apt-key adv --fetch-keys "$key" || exit 1; done
)SH"},
        {"lava-add-sources", R"SH(# lava-add-sources SOURCE...: apt sources (Debian-based DUTs only).
[ -d /etc/apt/sources.list.d ] || { echo "lava-add-sources: not an apt-based DUT"; exit 1; }
for source in "$@"; do echo "deb $source" >> /etc/apt/sources.list.d/lava.list; done
)SH"},
    };
    return scripts;
}

// ------------------------------------------------------------ run.sh / install.sh

namespace {

std::string scalar_text(const data::Value& v) {
    if (v.is_str()) return v.as_str();
    if (v.is_bool()) return v.as_bool() ? "True" : "False";
    if (v.is_none()) return "";
    return v.str();
}

void parameter_lines(const data::Value& params, std::string& out) {
    if (!params.is_dict()) return;
    for (const auto& [k, v] : params.as_dict()) out += k.str() + "=" + shell_quote(scalar_text(v)) + "\n";
}

const data::Value* testdef_params(const data::Value& doc) {
    if (const auto* p = doc.find("params")) return p;
    return doc.find("parameters");
}

std::string parameter_block(const data::Value& testdef, const data::Value& job_parameters) {
    std::string out;
    if (const auto* p = testdef_params(testdef); p && p->is_dict()) {
        out += "###default parameters from test definition###\n";
        parameter_lines(*p, out);
        out += "######\n";
    }
    if (job_parameters.is_dict() && !job_parameters.as_dict().empty()) {
        out += "###test parameters from job submission###\n";
        parameter_lines(job_parameters, out);
        out += "######\n";
    }
    return out;
}

bool skipped(const data::Value& skip_install, const char* what) {
    if (!skip_install.is_sequence()) return false;
    for (const auto& item : skip_install.as_list()) {
        if (item.is_str() && (item.as_str() == what || item.as_str() == "all")) return true;
    }
    return false;
}

std::string str_field(const data::Value& v, const char* key, std::string fallback = {}) {
    const auto* f = v.find(key);
    if (!f || f->is_none()) return fallback;
    return scalar_text(*f);
}

}  // namespace

std::string make_run_sh(const data::Value& testdef, const data::Value& job_parameters, const std::string& testrun_id,
                        const std::string& test_dir, bool kmsg) {
    std::string out = parameter_block(testdef, job_parameters);
    out += "set -e\nset -x\n";
    out += "export TESTRUN_ID=" + testrun_id + "\n";
    out += "cd " + test_dir + "\n";
    out += "UUID=`cat uuid`\n";
    out += "set +x\n";
    if (kmsg) {
        out += "export KMSG=true\n";
        out += "echo \"<0><LAVA_SIGNAL_STARTRUN $TESTRUN_ID $UUID>\" > /dev/kmsg\n";
    } else {
        out += "echo \"<LAVA_SIGNAL_STARTRUN $TESTRUN_ID $UUID>\"\n";
    }
    out += "set -x\n";
    static const std::regex positional(R"(\$(\d+)\b)");
    if (const auto* run = testdef.find("run"); run && run->is_dict()) {
        if (const auto* steps = run->find("steps"); steps && steps->is_sequence()) {
            for (const auto& step : steps->as_list()) {
                if (step.is_none()) continue;
                std::string line = scalar_text(step);
                // $1 inside a --cmd/--shell argument belongs to that command.
                if (line.find("--cmd") != std::string::npos || line.find("--shell") != std::string::npos) {
                    line = std::regex_replace(line, positional, "\\$$$1");
                }
                out += line + "\n";
            }
        }
    }
    out += "set +x\n";
    if (kmsg) {
        out += "unset KMSG\n";
        out += "echo \"<0><LAVA_SIGNAL_ENDRUN $TESTRUN_ID $UUID>\" > /dev/kmsg\n";
    } else {
        out += "echo \"<LAVA_SIGNAL_ENDRUN $TESTRUN_ID $UUID>\"\n";
    }
    return out;
}

std::string make_install_sh(const data::Value& testdef, const data::Value& job_parameters, const std::string& test_dir,
                            const data::Value& skip_install) {
    const auto* install = testdef.find("install");
    if (!install || !install->is_dict()) return {};
    std::string out = parameter_block(testdef, job_parameters);
    const auto list = [&](const char* key) -> std::vector<std::string> {
        std::vector<std::string> items;
        if (const auto* v = install->find(key); v && v->is_sequence()) {
            for (const auto& item : v->as_list()) {
                if (!item.is_none()) items.push_back(scalar_text(item));
            }
        }
        return items;
    };
    if (!skipped(skip_install, "keys")) {
        for (const auto& key : list("keys")) out += "lava-add-keys " + key + "\n";
    }
    if (!skipped(skip_install, "sources")) {
        for (const auto& source : list("sources")) out += "lava-add-sources " + source + "\n";
    }
    if (!skipped(skip_install, "deps")) {
        const auto deps = list("deps");
        if (!deps.empty()) {
            out += "lava-install-packages";
            for (const auto& d : deps) out += " " + d;
            out += "\n";
        }
    }
    if (!skipped(skip_install, "steps")) {
        const auto steps = list("steps");
        if (!steps.empty()) {
            out += "cd " + test_dir + "\npwd\n";
            for (const auto& s : steps) out += s + "\n";
        }
    }
    return out;
}

void flatten_environment(const std::string& prefix, const data::Value& value,
                         std::vector<std::pair<std::string, std::string>>& out) {
    if (value.is_dict()) {
        for (const auto& [k, v] : value.as_dict()) flatten_environment(prefix.empty() ? k.str() : prefix + "_" + k.str(), v, out);
    } else if (value.is_sequence()) {
        const auto& items = value.as_list();
        for (std::size_t i = 0; i < items.size(); ++i) flatten_environment(prefix + "_" + std::to_string(i), items[i], out);
    } else if (value.is_bool()) {
        out.emplace_back(prefix, value.as_bool() ? "1" : "0");
    } else {
        out.emplace_back(prefix, scalar_text(value));
    }
}

// MultiNode's helpers (lava-protocols.md §6.4): a call is one line on the
// console, which lava-run answers by typing a line back; each script gets
// its data (the group, the role, the job id) written at its top, as LAVA's.
const std::vector<std::pair<std::string, std::string>>& multinode_scripts() {
    static const std::vector<std::pair<std::string, std::string>> scripts = {
        {"lava-multi-node.lib", R"SH(# Sourced by lava-send, lava-wait, lava-wait-all and lava-sync.
# _lava_mn_call API WORDS...: asks lava-run (a line on the console).
_lava_mn_call() {
    _api=$1
    shift
    echo "<LAVA_MULTI_NODE> <LAVA_${_api} $*>"
}
# _lava_mn_answer API: reads the console until lava-run types
# <LAVA_API_COMPLETE [sender:key=value...]|nack>; keeps the key=value words
# in $LAVA_MULTI_NODE_CACHE, one per line; exits 1 on nack.
_lava_mn_answer() {
    _api=$1
    _line=
    while IFS= read -r _line; do
        case "$_line" in
            *"<LAVA_${_api}_COMPLETE"*) break ;;
        esac
    done
    _reply=${_line#*<LAVA_${_api}_COMPLETE}
    _reply=${_reply%%>*}
    mkdir -p "$(dirname "$LAVA_MULTI_NODE_CACHE")"
    rm -f "$LAVA_MULTI_NODE_CACHE"
    set -f
    for _word in $_reply; do
        case "$_word" in
            nack)
                echo "Error: no response for LAVA_${_api}, exit from lava-$(echo "$_api" | tr 'A-Z_' 'a-z-')"
                exit 1
                ;;
            *=*) echo "$_word" >> "$LAVA_MULTI_NODE_CACHE" ;;
        esac
    done
    set +f
}
_lava_mn_id() {
    case "$1" in
        ''|*=*) echo "Usage: $2 <message-id>${3:+ $3}"; exit 1 ;;
    esac
}
)SH"},
        {"lava-send", R"SH(# lava-send MESSAGE_ID [KEY=VALUE...]: sends to the group (no wait).
. "$LAVA_TEST_BIN/lava-multi-node.lib"
_lava_mn_id "$1" lava-send "[key=value...]"
_id=$1
shift
_pairs=
for _word in "$@"; do
    case "$_word" in
        ?*=?*) _pairs="$_pairs $_word" ;;
    esac
done
echo "<LAVA_MULTI_NODE> <LAVA_SEND ${_id}${_pairs}>"
)SH"},
        {"lava-wait", R"SH(# lava-wait MESSAGE_ID: waits until a node of the group sent it; its
# data (sender:key=value) in $LAVA_MULTI_NODE_CACHE.
. "$LAVA_TEST_BIN/lava-multi-node.lib"
_lava_mn_id "$1" lava-wait
_lava_mn_call WAIT "$1"
_lava_mn_answer WAIT
)SH"},
        {"lava-wait-all", R"SH(# lava-wait-all MESSAGE_ID [ROLE]: waits until every node (of ROLE) sent
# it; their data (sender:key=value) in $LAVA_MULTI_NODE_CACHE.
. "$LAVA_TEST_BIN/lava-multi-node.lib"
_lava_mn_id "$1" lava-wait-all "[role]"
_lava_mn_call WAIT_ALL "$@"
_lava_mn_answer WAIT_ALL
)SH"},
        {"lava-sync", R"SH(# lava-sync MESSAGE_ID: waits until every node of the group reached it.
. "$LAVA_TEST_BIN/lava-multi-node.lib"
_lava_mn_id "$1" lava-sync
_lava_mn_call SYNC "$1"
_lava_mn_answer SYNC
)SH"},
        {"lava-group", R"SH(# lava-group: the group, one "<TAB>job-id<TAB>role" line per node;
# lava-group ROLE: "<TAB>job-id" of the nodes of ROLE (exit 1 if none).
if [ -z "$1" ]; then
    printf "$LAVA_GROUP"
    exit 0
fi
_tab=$(printf '\t')
_match=$(printf "$LAVA_GROUP" | while IFS="$_tab" read -r _id _role; do
    [ "$_role" = "$1" ] && printf '\t%s\n' "$_id"
done)
[ -n "$_match" ] || exit 1
printf '%s' "$_match"
)SH"},
        {"lava-role", R"SH(# lava-role: this node's role; lava-role list: every role of the group.
if [ "$1" != "list" ]; then
    printf '%s' "$TARGET_ROLE"
    exit 0
fi
_tab=$(printf '\t')
printf "$LAVA_GROUP" | while IFS="$_tab" read -r _id _role; do echo "$_role"; done | sort -u
)SH"},
        {"lava-self", R"SH(# lava-self: this node's name in the group (its job id).
echo "$LAVA_HOSTNAME"
)SH"},
        {"lava-echo-config", R"SH(# lava-echo-config [FILTER]: the group's shared configuration (none without VMs).
if [ -z "${LAVA_SHARED_CONFIG:-}" ]; then
    printf "no shared config\n"
    exit 1
fi
if [ -z "$1" ]; then
    printf '%s\n' "$LAVA_SHARED_CONFIG"
    exit 0
fi
printf '%s\n' "$LAVA_SHARED_CONFIG" | sed -n "s/^$1 //p"
)SH"},
    };
    return scripts;
}

// ------------------------------------------------------------ Overlay

Overlay::Overlay(OverlayOptions options) : options_(std::move(options)) {}

std::string Overlay::host_path(const std::string& dut_path) const { return options_.host_dir + dut_path; }

void Overlay::write_file(const std::string& dut_path, const std::string& content, int mode) const {
    const auto path = host_path(dut_path);
    fs::create_directories(fs::path(path).parent_path());
    // A file of a test repository may already be there, maybe a symbolic
    // link out of the overlay: it is replaced, never written through.
    ::unlink(path.c_str());
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    bool ok = fd >= 0;
    for (std::size_t done = 0; ok && done < content.size();) {
        const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        ok = n > 0;
        done += ok ? static_cast<std::size_t>(n) : 0;
    }
    ok = ok && ::fchmod(fd, static_cast<mode_t>(mode)) == 0;
    if (fd >= 0) ok = ::close(fd) == 0 && ok;
    if (!ok) fail(ErrorType::kInfrastructure, "cannot write " + path);
}

void Overlay::write_base() {
    const auto& r = options_.results_dir;
    fs::create_directories(host_path(r + "/results"));
    for (const auto& [name, body] : helper_scripts()) {
        write_file(r + "/bin/" + name, "#!" + options_.sh_cmd + "\n" + body, 0755);
    }
}

void Overlay::write_multinode(const std::string& role, const std::vector<std::pair<std::string, std::string>>& group) {
    const auto& r = options_.results_dir;
    std::string group_lines;
    for (const auto& [id, member_role] : group) group_lines += "\\t" + id + "\\t" + member_role + "\\n";
    for (const auto& [name, body] : multinode_scripts()) {
        std::string header = "#!" + options_.sh_cmd + "\n";
        if (name == "lava-group" || name == "lava-role") header += "LAVA_GROUP=" + shell_quote(group_lines) + "\n";
        if (name == "lava-role") header += "TARGET_ROLE=" + shell_quote(role) + "\n";
        if (name == "lava-self") header += "LAVA_HOSTNAME=" + shell_quote(options_.job_id) + "\n";
        header += "LAVA_TEST_BIN=" + shell_quote(r + "/bin") + "\n";
        header += "LAVA_MULTI_NODE_CACHE=" + shell_quote(kMultinodeCache) + "\n";
        write_file(r + "/bin/" + name, header + body, 0755);
    }
}

void Overlay::write_environment(const std::vector<std::pair<std::string, std::string>>& variables) {
    std::string out;
    for (const auto& [k, v] : variables) out += "export " + k + "=" + shell_quote(v) + "\n";
    write_file(options_.results_dir + "/environment", out, 0644);
}

void Overlay::write_secrets(const std::vector<std::pair<std::string, std::string>>& secrets) {
    std::string out;
    for (const auto& [k, v] : secrets) out += k + "=" + shell_quote(v) + "\n";
    write_file(options_.results_dir + "/secrets", out, 0600);
}

TestRunInfo Overlay::add_definition(int stage, int index, const data::Value& definition,
                                    std::chrono::steady_clock::time_point deadline, const std::atomic<bool>& canceled,
                                    JobLog& log) {
    const std::string name = str_field(definition, "name");
    const std::string from = str_field(definition, "from");
    if (name.empty()) fail(ErrorType::kJob, "test definition without a name");
    if (name == "lava") fail(ErrorType::kTest, "The \"lava\" test definition name is reserved.");
    const std::string testrun_id = std::to_string(index) + "_" + name;
    if (auto problem = file_name_problem(testrun_id); !problem.empty()) {
        fail(ErrorType::kJob, "test definition name '" + name + "' " + problem);
    }
    const std::string dut_dir = options_.results_dir + "/" + std::to_string(stage) + "/tests/" + testrun_id;
    const std::string dir = host_path(dut_dir);
    fs::create_directories(dir);
    // Every path the job names stays inside the test's directory (checked at
    // submission too; again here, where the files are: a repository may
    // hold symbolic links).
    const auto inside = [&](const std::string& relative) {
        auto p = path_inside(dir, relative);
        if (!p) fail(ErrorType::kJob, "test definition " + name + ": path " + p.error().message);
        return *p;
    };

    TestRunInfo info;
    info.name = testrun_id;
    info.uuid = options_.job_id + "_" + std::to_string(stage) + "." + std::to_string(index);
    std::string path = str_field(definition, "path");
    if (from == "inline") {
        const auto* repository = definition.find("repository");
        if (!repository || !repository->is_dict()) fail(ErrorType::kJob, "inline test definition " + name + " has no repository mapping");
        if (path.empty()) path = "inline/" + name + ".yaml";
        inside(path);
        write_file(dut_dir + "/" + path, common::yaml::dump(*repository), 0644);
        info.repository = "inline";
        log.info("inline test definition " + name + " written to " + dut_dir + "/" + path);
    } else if (from == "git") {
        const std::string repo = str_field(definition, "repository");
        const std::string branch = str_field(definition, "branch");
        const std::string revision = str_field(definition, "revision");
        const auto* shallow_v = definition.find("shallow");
        const bool shallow = !shallow_v || shallow_v->truthy();
        const auto* history_v = definition.find("history");
        const bool history = !history_v || history_v->truthy();
        // Options end before what the job supplies ("--"); a revision or branch
        // that reads as an option is refused; no transport runs a command.
        for (const auto& [what, value] : {std::pair{"revision", &revision}, std::pair{"branch", &branch}}) {
            if (!value->empty() && value->front() == '-') {
                fail(ErrorType::kJob, "test definition " + name + ": " + what + " '" + *value + "' starts with '-'");
            }
        }
        std::vector<std::string> clone = {"git", "-c", "protocol.ext.allow=never", "-c", "protocol.fd.allow=never",
                                          "clone", "-q"};
        if (!branch.empty()) clone.insert(clone.end(), {"-b", branch});
        if (shallow && revision.empty()) clone.push_back("--depth=1");
        clone.insert(clone.end(), {"--", repo, dir + "/repo.tmp"});
        auto r = run_command(clone, "", deadline, canceled, log);
        if (r.exit_code != 0) fail(ErrorType::kInfrastructure, "Unable to clone " + repo + ": " + std::string(lava::trim(r.output)));
        if (!revision.empty()) {
            r = run_command({"git", "-C", dir + "/repo.tmp", "checkout", "-q", revision, "--"}, "", deadline, canceled, log);
            if (r.exit_code != 0) fail(ErrorType::kInfrastructure, "Unable to check out " + revision + " of " + repo + ": " + std::string(lava::trim(r.output)));
        }
        r = run_command({"git", "-C", dir + "/repo.tmp", "log", "-1", "--format=%H"}, "", deadline, canceled, log);
        info.commit_id = std::string(lava::trim(r.output));
        // The checkout is the test directory itself.
        for (const auto& entry : fs::directory_iterator(dir + "/repo.tmp")) {
            if (!history && entry.path().filename() == ".git") continue;
            fs::rename(entry.path(), dir + "/" + entry.path().filename().string());
        }
        fs::remove_all(dir + "/repo.tmp");
        info.repository = repo;
        info.revision = revision;
        log.info("Cloned " + repo + " (" + info.commit_id + ")");
    } else if (from == "url") {
        // A (compressed) tar archive of tests, unpacked into the test directory.
        const std::string url = str_field(definition, "repository");
        DownloadRequest request{url, str_field(definition, "compression"), "tar", {}, {}};
        const auto got = download(request, dir + "/url.tmp", deadline, log, canceled);
        for (const auto& entry : fs::directory_iterator(got.path)) {
            fs::rename(entry.path(), dir + "/" + entry.path().filename().string());
        }
        fs::remove_all(dir + "/url.tmp");
        log.info("Untarred tests from " + url + " into " + dut_dir);
        info.repository = url;
    } else {
        fail(ErrorType::kJob, "test definition " + name + ": unsupported 'from: " + from + "'");
    }
    if (path.empty()) fail(ErrorType::kJob, "test definition " + name + " has no path");
    info.path = path;

    const auto text = read_file(inside(path));
    if (!text) fail(ErrorType::kJob, "Unable to open test definition '" + path + "' of " + name);
    auto loaded = common::yaml::load(*text);
    if (!loaded || !loaded->is_dict()) {
        fail(ErrorType::kJob, "test definition '" + path + "' of " + name + " is not a YAML mapping" +
                                  (loaded ? std::string() : ": " + loaded.error().message));
    }
    const data::Value& testdef = *loaded;
    if (const auto* parse = testdef.find("parse"); parse && parse->is_dict()) {
        info.parse_pattern = str_field(*parse, "pattern");
        if (const auto* fix = parse->find("fixupdict"); fix && fix->is_dict()) {
            for (const auto& [k, v] : fix->as_dict()) info.fixupdict[k.str()] = scalar_text(v);
        }
    }
    data::Value job_parameters;
    if (const auto* p = definition.find("parameters")) {
        job_parameters = *p;
    } else if (const auto* q = definition.find("params")) {
        job_parameters = *q;
    }
    const auto* lava_signal = definition.find("lava-signal");
    const bool kmsg = lava_signal && lava_signal->is_str() && lava_signal->as_str() == "kmsg";
    write_file(dut_dir + "/uuid", info.uuid, 0644);
    write_file(dut_dir + "/testdef.yaml", *text, 0644);
    std::string metadata = common::yaml::dump(data::Value(data::Dict{
        {data::Value("name"), data::Value(name)}, {data::Value("path"), data::Value(path)},
        {data::Value("repository"), data::Value(info.repository)}, {data::Value("uuid"), data::Value(info.uuid)}}));
    write_file(dut_dir + "/testdef_metadata", metadata, 0644);
    write_file(dut_dir + "/run.sh", make_run_sh(testdef, job_parameters, testrun_id, dut_dir, kmsg), 0755);
    const auto* skip = definition.find("skip_install");
    const std::string install = make_install_sh(testdef, job_parameters, dut_dir, skip ? *skip : data::Value());
    if (!install.empty()) write_file(dut_dir + "/install.sh", install, 0755);
    stage_tests_.emplace_back(stage, dut_dir);
    return info;
}

void Overlay::finish_stage(int stage) {
    std::string conf;
    for (const auto& [s, dir] : stage_tests_) {
        if (s == stage) conf += dir + "\n";
    }
    write_file(options_.results_dir + "/" + std::to_string(stage) + "/lava-test-runner.conf", conf, 0644);
}

namespace {

void write_archive(const std::string& root, const std::string& top, const std::string& path, bool cpio) {
    std::unique_ptr<archive, decltype(&archive_write_free)> a(archive_write_new(), archive_write_free);
    if (cpio) {
        archive_write_set_format_cpio_newc(a.get());
    } else {
        archive_write_set_format_pax_restricted(a.get());
    }
    archive_write_add_filter_gzip(a.get());
    if (archive_write_open_filename(a.get(), path.c_str()) != ARCHIVE_OK) {
        fail(ErrorType::kInfrastructure, "cannot write " + path + ": " + archive_error_string(a.get()));
    }
    // Directories before what they hold, in a stable order.
    std::vector<fs::path> paths;
    for (fs::path prefix; const auto& part : fs::path(top)) {
        prefix /= part;
        paths.push_back(fs::path(root) / prefix);  // every parent, for the kernel's unpacker
    }
    for (const auto& entry : fs::recursive_directory_iterator(fs::path(root) / top)) paths.push_back(entry.path());
    std::sort(paths.begin(), paths.end());
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(), archive_entry_free);
    for (const auto& p : paths) {
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0) continue;
        archive_entry_clear(entry.get());
        archive_entry_copy_stat(entry.get(), &st);
        archive_entry_set_uid(entry.get(), 0);
        archive_entry_set_gid(entry.get(), 0);
        archive_entry_set_pathname(entry.get(), fs::relative(p, root).c_str());
        if (S_ISLNK(st.st_mode)) {
            archive_entry_set_symlink(entry.get(), fs::read_symlink(p).c_str());
        }
        if (archive_write_header(a.get(), entry.get()) != ARCHIVE_OK) {
            fail(ErrorType::kInfrastructure, "cannot write " + path + ": " + archive_error_string(a.get()));
        }
        if (S_ISREG(st.st_mode)) {
            std::ifstream in(p, std::ios::binary);
            char buffer[1 << 16];
            while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
                archive_write_data(a.get(), buffer, static_cast<std::size_t>(in.gcount()));
            }
        }
    }
    if (archive_write_close(a.get()) != ARCHIVE_OK) {
        fail(ErrorType::kInfrastructure, "cannot write " + path + ": " + archive_error_string(a.get()));
    }
}

}  // namespace

void write_cpio_gz_of(const std::string& dir, const std::string& path) { write_archive(dir, "", path, true); }

void Overlay::write_cpio_gz(const std::string& path) const {
    write_archive(options_.host_dir, options_.results_dir.substr(1), path, true);
}

void Overlay::write_tar_gz(const std::string& path) const {
    write_archive(options_.host_dir, options_.results_dir.substr(1), path, false);
}

}  // namespace lava::worker::run
