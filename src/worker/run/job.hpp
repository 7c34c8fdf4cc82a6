#pragma once
// One lava-run job from its files to result.yaml (lava-protocols.md §2):
// load and validate (schema, device, every action, every URL), write
// description.yaml, run the pipeline under the job timeout, always finalize,
// log the job result last and write result.yaml. Runs on the calling
// thread; cancellation comes from `canceled` / `cancel_fd` (signals).

#include <atomic>
#include <functional>
#include <string>

namespace lava::worker::run {

struct RunOptions {
    std::string job_file;
    std::string device_file;
    std::string dispatcher_file;  // "" for none
    std::string env_dut_file;     // "" for none
    std::string output_dir;
    std::string job_id = "0";
    std::string url;  // "" : the log goes to stderr
    std::string token;
    int job_log_interval = 5;
    bool validate_only = false;
    std::string version;  // lava-cpp's, for the first log line
    std::string tmp_root = "/var/lib/lava/dispatcher/tmp";  // the job's files go in <tmp_root>/<job_id>
    // MultiNode: where lava-coordinator is (LAVA's file and path).
    std::string coordinator_config = "/etc/lava-coordinator/lava-coordinator.conf";
    // deploy to: tftp: the TFTP server's directory ("": TFTP_DIRECTORY in
    // /etc/default/tftpd-hpa, as LAVA reads it).
    std::string tftp_dir;
};

struct Cancellation {
    const std::atomic<bool>& canceled;
    int fd = -1;                         // readable once canceled
    std::function<std::string()> reason;  // "Received signal SIGTERM"
    std::function<int()> count;           // signals received so far
};

// The exit code: 0 when the job passed (or validated), 1 otherwise.
int run_job(const RunOptions& options, const Cancellation& cancellation);

}  // namespace lava::worker::run
