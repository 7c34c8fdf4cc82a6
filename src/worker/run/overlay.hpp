#pragma once
// The lava-test-shell overlay (lava-protocols.md §10.1): built on the host in
// a job's temporary directory, then carried to the DUT as an archive, either
// appended to the initramfs (a second cpio newc archive, which the kernel
// unpacks over the first) or fetched by the DUT over HTTP and unpacked with
// the job's `transfer_overlay` commands. No helper VM, no libguestfs: see
// docs/lava-run.md. Lives on lava-run's main thread.
//
//   <R>/bin/                 helper scripts (ours), "#!<lava_test_sh_cmd>"
//   <R>/environment          export K='V' lines
//   <R>/secrets              K=V lines
//   <R>/results/
//   <R>/<stage>/lava-test-runner.conf
//   <R>/<stage>/tests/<idx>_<name>/{run.sh, install.sh, uuid, testdef.yaml, ...}

#include "common/data/value.hpp"
#include "worker/run/job_log.hpp"
#include "worker/run/signals.hpp"

#include <atomic>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace lava::worker::run {

// The helper scripts, by name, without their "#!" line.
const std::vector<std::pair<std::string, std::string>>& helper_scripts();

// Where the MultiNode helpers keep the data of the last call (LAVA's path).
inline constexpr const char* kMultinodeCache = "/tmp/lava_multi_node_cache.txt";

struct OverlayOptions {
    std::string host_dir;     // where the tree is built (created)
    std::string results_dir;  // <R> on the DUT, e.g. /lava-42
    std::string sh_cmd = "/bin/sh";
    std::string job_id;
};

class Overlay {
public:
    explicit Overlay(OverlayOptions options);

    // bin/, results/ and the helpers.
    void write_base();
    // MultiNode: lava-send, lava-wait, lava-wait-all, lava-sync, lava-group,
    // lava-role, lava-self, lava-echo-config, with this node's role and its
    // group ({job id, role}, in the scheduler's order) written in.
    void write_multinode(const std::string& role, const std::vector<std::pair<std::string, std::string>>& group);
    // <R>/environment: `variables` (already flattened, in order).
    void write_environment(const std::vector<std::pair<std::string, std::string>>& variables);
    // <R>/secrets.
    void write_secrets(const std::vector<std::pair<std::string, std::string>>& secrets);

    // One entry of a test action's `definitions`, fetched into
    // <R>/<stage>/tests/<idx>_<name>/ with its run.sh (and install.sh).
    // Throws JobFailure (kJob for a bad definition, kInfrastructure when a
    // repository cannot be fetched).
    TestRunInfo add_definition(int stage, int index, const common::data::Value& definition,
                               std::chrono::steady_clock::time_point deadline, const std::atomic<bool>& canceled,
                               JobLog& log);
    // Writes <R>/<stage>/lava-test-runner.conf for the definitions added.
    void finish_stage(int stage);

    // The tree as a gzip-compressed archive whose paths are relative to /
    // ("lava-42/bin/..."): cpio newc (for an initramfs) or tar (for
    // transfer_overlay). Throws JobFailure(kInfrastructure).
    void write_cpio_gz(const std::string& path) const;
    void write_tar_gz(const std::string& path) const;

private:
    std::string host_path(const std::string& dut_path) const;  // <R>/x on the host
    void write_file(const std::string& dut_path, const std::string& content, int mode) const;

    OverlayOptions options_;
    std::vector<std::pair<int, std::string>> stage_tests_;  // stage, DUT path of the test dir
};

// Every file under `dir` as a gzip-compressed cpio newc archive, paths
// relative to `dir` (kernel modules for an initramfs). Throws JobFailure(kInfrastructure).
void write_cpio_gz_of(const std::string& dir, const std::string& path);

// `environment` entries as LAVA exports them: nested mappings and lists
// flattened with "_" and indexes, booleans as 1/0.
void flatten_environment(const std::string& prefix, const common::data::Value& value,
                         std::vector<std::pair<std::string, std::string>>& out);

// The run.sh of a test definition (testdef parsed, job `parameters`).
std::string make_run_sh(const common::data::Value& testdef, const common::data::Value& job_parameters,
                        const std::string& testrun_id, const std::string& test_dir, bool kmsg);

// The install.sh of a test definition, "" when it has nothing to install.
std::string make_install_sh(const common::data::Value& testdef, const common::data::Value& job_parameters,
                            const std::string& test_dir, const common::data::Value& skip_install);

}  // namespace lava::worker::run
