#pragma once
// lava-scheduler's daemon loop. Leadership: a session-level PostgreSQL
// advisory lock on a connection of its own; a scheduler that cannot take it
// is a hot standby and retries every standby_poll_ms (the lock is released
// the moment the active one's connection closes, when it dies). The active
// one runs a pass at once, then whenever lava-publisher's ZMQ PUB brings an
// event that may make a job placeable (a job Submitted, a device Idle and
// healthy, a worker Online), else every interval_s; it publishes the pass's
// events after each commit. SIGTERM/SIGINT: finish the pass, exit 0.

#include "common/db/pool.hpp"
#include "common/metrics/metrics.hpp"
#include "server/scheduler/scheduler.hpp"

#include <string>

namespace lava::server::scheduler {

struct DaemonSettings {
    SchedulerSettings scheduler;
    std::string event_socket = "ipc:///tmp/lava.events";  // lava-publisher's input (PUSH)
    std::string events_url = "tcp://127.0.0.1:5500";       // lava-publisher's PUB (SUB)
    std::string event_topic = "org.lavasoftware";
    int interval_s = 20;
    int standby_poll_ms = 500;
};

// The advisory lock key of the active scheduler.
constexpr long long kLeaderLock = 0x6c6176615f736368LL;  // "lava_sch"

// Runs until SIGTERM/SIGINT; returns the exit code. Counts in `metrics`:
// lava_scheduler_{active,passes_total,pass_duration_seconds,placements_total,
// queue_timeouts_total}, the events and job metrics of what it publishes,
// and, while active, lava_queue_length{device_type} and
// lava_jobs_waiting{reason} read at each scrape.
int run_daemon(const DaemonSettings& settings, const std::string& conninfo, common::db::Pool& pool,
               common::metrics::Registry& metrics);

// A scheduler's reason for a device type's queue, as a bounded label:
// no_device, no_usable_device, busy, multinode, restricted, unknown.
std::string reason_category(const std::string& reason);

}  // namespace lava::server::scheduler
