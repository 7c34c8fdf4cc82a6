#pragma once
// lava-scheduler's pass (lava-protocols.md §9.2-9.3): in one transaction,
// workers silent too long go Offline, queue timeouts cancel their jobs,
// devices due for a health check get one, then Submitted jobs get Idle
// devices in queue order (priority desc, submit time, sub_id, id), each job
// on the free device of its type that it may use (requested device and
// worker, tags, the submitter's permissions, the worker's job_limit),
// preferring the device with the fewest tags (then by name) so tagged
// devices stay free for the jobs that need them.
//
// MultiNode groups are placed all at once or not at all: no device is held
// for a group that cannot start. A group that could start once busy devices
// free up keeps the jobs queued behind it off the device types it needs
// (they stay Idle for it), so a big group is never starved by a stream of
// small jobs; a group that could never fit (more devices than the lab has
// usable) blocks nobody.
//
// Every job the pass looked at and left waiting gets its reason
// (test_jobs.waiting_reason); every device type with waiting jobs gets one
// for the jobs the pass did not reach (device_type_queues).

#include "common/db/pool.hpp"
#include "server/events/events.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lava::server::scheduler {

struct SchedulerSettings {
    // Root of health-checks/<device type>.yaml and devices/<hostname>.jinja2.
    std::string dispatcher_config = "/etc/lava-server/dispatcher-config";
    int worker_timeout_s = 60;  // Online workers silent this long go Offline
};

struct Placement {
    std::int64_t job = 0;
    std::string device;
    bool operator==(const Placement&) const = default;
};

struct PassReport {
    std::vector<Placement> scheduled;          // jobs Scheduled (health checks included)
    std::vector<std::int64_t> health_checks;   // health-check jobs created
    std::vector<std::string> workers_offline;  // silent workers taken Offline
    std::vector<std::int64_t> timed_out;       // jobs canceled by their queue timeout
    std::vector<std::string> devices_bad;      // devices whose health check cannot run
    std::vector<events::PendingEvent> events;  // to publish: the pass committed
    double ms = 0;                             // the pass, commit included
    std::string phases;                        // "load 0.4, matching 1.2, ..." (ms), for logs and benchmarks
};

class Scheduler {
public:
    Scheduler(common::db::Pool& pool, SchedulerSettings settings);
    // One pass, committed when it returns (throws on database errors; then
    // nothing of it is kept).
    PassReport pass();
    // Forgets what it stored (call when another scheduler may have written
    // since: on becoming the active one).
    void forget() {
        type_reasons_.clear();
        last_housekeeping_ = {};
    }

private:
    common::db::Pool& pool_;
    SchedulerSettings settings_;
    std::map<std::string, std::string> type_reasons_;  // device_type_queues as this instance wrote it
    std::chrono::steady_clock::time_point last_housekeeping_{};
};

}  // namespace lava::server::scheduler
