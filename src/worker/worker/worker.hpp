#pragma once
// lava-worker's main loop (lava-protocols.md §1.5): ping the server every
// ping interval, or at once when the publisher's WebSocket says a job of
// this worker is Scheduled or Canceling; start jobs (fetch, write the job's
// files, spawn lava-run in its own process group, POST Running), cancel them
// (SIGTERM, again after 60 s, SIGKILL of the group after 120 s), and report
// the end (POST Finished with result.yaml, stderr and description.yaml,
// retried until the server answers). Every job is remembered in a small file
// under <worker-dir>/jobs/, so a restarted worker finds its jobs (still
// running or ended meanwhile) and reports them. One thread; the WebSocket
// listener runs on another and only wakes this one.

#include "worker/worker/api.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace lava::common::metrics {
class Registry;
}

namespace lava::worker::worker {

struct WorkerOptions {
    std::string name;
    std::string url;
    std::string ws_url;      // "" : <url>/ws/
    std::string token;       // "" : read token_file, else register
    std::string token_file;  // "" : <worker_dir>/token
    std::string username;    // registration with a user (password: --token)
    std::string worker_dir = "/var/lib/lava/dispatcher/worker";
    std::string lava_run;    // the lava-run program
    // MultiNode: lava-coordinator's settings, passed on to lava-run.
    std::string coordinator_config = "/etc/lava-coordinator/lava-coordinator.conf";
    // deploy to: tftp: the TFTP server's directory, passed on to lava-run
    // ("": lava-run reads TFTP_DIRECTORY in /etc/default/tftpd-hpa).
    std::string tftp_dir;
    std::chrono::seconds http_timeout{600};
    std::chrono::seconds ping_interval{20};
    int job_log_interval = 5;
    bool exit_on_version_mismatch = false;
    bool wait_jobs = false;
    // Cancel escalation (LAVA: 60 s then 120 s).
    std::chrono::seconds sigterm_again_after{60};
    std::chrono::seconds sigkill_after{120};
};

enum class JobStatus { kRunning, kCanceling, kFinished };

struct LocalJob {
    long long id = 0;
    std::string token;
    int pid = 0;  // lava-run's, which leads its process group
    JobStatus status = JobStatus::kRunning;
    std::int64_t canceled_at = 0;  // unix seconds, when status became Canceling
    bool sigterm_again = false;
    bool our_child = false;  // not persisted: false after a restart
};

class Worker {
public:
    explicit Worker(WorkerOptions options);
    ~Worker();

    // Runs until `stop` (and, with wait_jobs, until no job is left).
    // `wake_fd`: readable = ping now (WebSocket events, SIGCHLD).
    // Returns the exit code.
    int run(const std::atomic<bool>& stop, int wake_fd);

    // The token (after run() obtained it), for the WebSocket listener.
    std::string token() const;

    // Counts in `registry` from now on: lava_worker_jobs_running,
    // lava_worker_jobs_total{result,error_type} (lava-run's ends, as
    // reported), lava_worker_pings_total{result},
    // lava_worker_log_upload_retries_total. Call before run().
    void instrument(common::metrics::Registry& registry);
    // /readyz: nullopt once the server answered the last ping.
    std::optional<std::string> ready_problem() const;

private:
    bool ensure_token(const std::atomic<bool>& stop, int wake_fd);
    void load_jobs();
    void save(const LocalJob& job) const;
    void forget(long long id);
    std::string job_dir(long long id) const;
    void handle(const PingReply& reply);
    void start_job(const JobRef& ref);
    void cancel_job(const JobRef& ref);
    // Reaps ended lava-runs, escalates cancels, reports what ended; true when
    // something is still to report (so the next wait is short).
    bool check();
    bool alive(LocalJob& job);

    WorkerOptions options_;
    WorkerApi api_;
    mutable std::mutex token_mutex_;
    std::string token_;
    std::map<long long, LocalJob> jobs_;
    struct Metrics;
    std::unique_ptr<Metrics> metrics_;
    std::atomic<int> last_ping_status_{0};
};

// Waits on the publisher's WebSocket (authenticated as the worker) and
// writes a byte to `wake_fd` when a testjob event for `name` is Scheduled or
// Canceling; reconnects with back-off 1 -> 60 s. Returns when `stop` is set
// (checked every second).
void listen_events(const std::string& ws_url, const std::string& name, const std::function<std::string()>& token,
                   int wake_fd, const std::atomic<bool>& stop);

}  // namespace lava::worker::worker
