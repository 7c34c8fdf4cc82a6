#pragma once
// LAVA's job state machine and its effects on devices (lava-protocols.md
// §9.2): Running, Finished (with the device-health rules of health checks
// and infrastructure errors), Canceling, and the MultiNode cascades. Shared
// by every server daemon that moves a job (lava-server's worker API and
// cancel, lava-scheduler). Works inside the caller's transaction, locking
// the rows it changes; records what it touched so the caller can publish
// events after the commit.

#include "common/db/pool.hpp"
#include "common/proto/states.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace lava::server::store {

struct Touched {
    std::vector<std::int64_t> jobs;
    std::vector<std::string> devices;
    void job(std::int64_t id);
    void device(const std::string& hostname);
};

class JobTransitions {
public:
    JobTransitions(common::db::Tx& tx, Touched& touched, std::string actor)
        : tx_(tx), touched_(touched), actor_(std::move(actor)) {}

    // Scheduled -> Running: start_time, device Running. A job already
    // Running or past it is left alone.
    void go_running(std::int64_t id);

    // -> Finished with `health` (Canceled when the job was Canceling):
    // end_time (and start_time if it never ran), device Idle, and the
    // device's health: a health check makes it Good (Complete) or Bad, an
    // infrastructure error makes it Unknown. An essential MultiNode role
    // ending Incomplete cancels the rest of its group.
    void go_finished(std::int64_t id, proto::JobHealth health, bool infrastructure_error);

    // Submitted -> Finished/Canceled; Scheduling, Scheduled, Running ->
    // Canceling (an essential role takes its group along unless `cascade`
    // is false). Canceling and Finished jobs are left alone.
    void go_canceling(std::int64_t id, bool cascade = true);

    // LAVA's user cancel: the whole MultiNode group, or the one job.
    void cancel(std::int64_t id);

private:
    struct Locked;
    bool lock(std::int64_t id, Locked& out);
    void cancel_group_except(const std::string& group, std::int64_t except);

    common::db::Tx& tx_;
    Touched& touched_;
    std::string actor_;
};

}  // namespace lava::server::store
