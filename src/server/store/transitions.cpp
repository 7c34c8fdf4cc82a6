#include "server/store/transitions.hpp"

#include "common/yaml/load.hpp"
#include "server/store/change.hpp"
#include "server/store/devices.hpp"

#include <algorithm>

namespace lava::server::store {
namespace {

using common::db::Statement;
using proto::DeviceHealth;
using proto::DeviceState;
using proto::JobHealth;
using proto::JobState;

const Statement kLockJob{
    "transitions.lock_job",
    "SELECT j.state, j.health, j.actual_device, j.target_group, j.health_check, d.definition, "
    "j.sub_id FROM test_jobs j JOIN test_job_definitions d ON d.job_id = j.id WHERE j.id = $1 FOR UPDATE OF j"};
const Statement kLockGroup{"transitions.lock_group",
                           "SELECT id FROM test_jobs WHERE target_group = $1 ORDER BY id FOR UPDATE"};
const Statement kSetRunning{"transitions.set_running",
                            "UPDATE test_jobs SET state = 3, start_time = now() WHERE id = $1"};
const Statement kSetCanceling{"transitions.set_canceling", "UPDATE test_jobs SET state = 4 WHERE id = $1"};
const Statement kSetFinished{
    "transitions.set_finished",
    "UPDATE test_jobs SET state = 5, health = $2, end_time = now(), "
    "start_time = coalesce(start_time, now()) WHERE id = $1"};
const Statement kLockDevice{"transitions.lock_device",
                            "SELECT state, health FROM devices WHERE hostname = $1 FOR UPDATE"};
const Statement kSetDeviceState{"transitions.set_device_state",
                                "UPDATE devices SET state = $2 WHERE hostname = $1"};
const Statement kSetHealthReport{"transitions.set_health_report",
                                 "UPDATE devices SET last_health_report_job = $2 WHERE hostname = $1"};

// protocols.lava-multinode.essential of a sub-job's definition.
bool essential_role(const std::string& definition) {
    auto doc = common::yaml::load(definition);
    if (!doc || !doc->is_dict()) return false;
    const auto* protocols = doc->find("protocols");
    const auto* mn = protocols ? protocols->find("lava-multinode") : nullptr;
    const auto* essential = mn ? mn->find("essential") : nullptr;
    return essential && essential->truthy();
}

}  // namespace

void Touched::job(std::int64_t id) {
    if (std::find(jobs.begin(), jobs.end(), id) == jobs.end()) jobs.push_back(id);
}

void Touched::device(const std::string& hostname) {
    if (std::find(devices.begin(), devices.end(), hostname) == devices.end()) devices.push_back(hostname);
}

struct JobTransitions::Locked {
    JobState state = JobState::kSubmitted;
    std::optional<std::string> device;
    std::optional<std::string> group;
    bool health_check = false;
    std::string definition;
    std::string display_id;
};

bool JobTransitions::lock(std::int64_t id, Locked& out) {
    auto row = tx_.exec01(kLockJob, id);
    if (!row) return false;
    const auto& r = *row;
    out.state = static_cast<JobState>(r[0].as<int>());
    if (!r[2].is_null()) out.device = r[2].as<std::string>();
    if (!r[3].is_null()) out.group = r[3].as<std::string>();
    out.health_check = r[4].as<bool>();
    out.definition = r[5].as<std::string>();
    out.display_id = r[6].as<std::string>().empty() ? std::to_string(id) : r[6].as<std::string>();
    return true;
}

void JobTransitions::go_running(std::int64_t id) {
    Locked job;
    if (!lock(id, job) || job.state >= JobState::kRunning) return;
    tx_.exec(kSetRunning, id);
    touched_.job(id);
    if (job.device) {
        tx_.exec(kLockDevice, *job.device);
        tx_.exec(kSetDeviceState, *job.device, static_cast<int>(DeviceState::kRunning));
        touched_.device(*job.device);
    }
}

void JobTransitions::go_finished(std::int64_t id, JobHealth health, bool infrastructure_error) {
    Locked job;
    if (!lock(id, job) || job.state == JobState::kFinished) return;
    const JobHealth final_health = job.state == JobState::kCanceling ? JobHealth::kCanceled : health;
    tx_.exec(kSetFinished, id, static_cast<int>(final_health));
    touched_.job(id);
    if (job.device) {
        const auto dev = tx_.exec01(kLockDevice, *job.device);
        if (dev) {
            tx_.exec(kSetDeviceState, *job.device, static_cast<int>(DeviceState::kIdle));
            touched_.device(*job.device);
            const auto old_health = static_cast<DeviceHealth>((*dev)[1].as<int>());
            DeviceRepository devices(tx_);
            const std::string job_ref = "job " + job.display_id;
            if (job.health_check) {
                tx_.exec(kSetHealthReport, *job.device, id);
                if (old_health == DeviceHealth::kGood || old_health == DeviceHealth::kUnknown ||
                    old_health == DeviceHealth::kBad) {
                    const bool good = final_health == JobHealth::kComplete;
                    const char* what = good ? "completed"
                                            : final_health == JobHealth::kCanceled ? "canceled" : "failed";
                    devices.set_health(*job.device, DeviceState::kIdle, old_health,
                                       good ? DeviceHealth::kGood : DeviceHealth::kBad,
                                       Change{actor_, "health-check " + job_ref + " " + what});
                }
            } else if (infrastructure_error && old_health != DeviceHealth::kUnknown) {
                devices.set_health(*job.device, DeviceState::kIdle, old_health, DeviceHealth::kUnknown,
                                   Change{actor_, "Infrastructure error after " + job_ref});
            }
        }
    }
    if (health == JobHealth::kIncomplete && job.group && essential_role(job.definition)) {
        cancel_group_except(*job.group, id);
    }
}

void JobTransitions::go_canceling(std::int64_t id, bool cascade) {
    Locked job;
    if (!lock(id, job) || job.state >= JobState::kCanceling) return;
    if (job.state == JobState::kSubmitted) {
        tx_.exec(kSetFinished, id, static_cast<int>(JobHealth::kCanceled));
        touched_.job(id);
        return;
    }
    tx_.exec(kSetCanceling, id);
    touched_.job(id);
    if (cascade && job.group && essential_role(job.definition)) cancel_group_except(*job.group, id);
}

void JobTransitions::cancel(std::int64_t id) {
    Locked job;
    if (!lock(id, job)) return;
    if (!job.group) {
        go_canceling(id);
        return;
    }
    for (const auto& row : tx_.exec(kLockGroup, *job.group)) go_canceling(row[0].as<std::int64_t>(), false);
}

void JobTransitions::cancel_group_except(const std::string& group, std::int64_t except) {
    for (const auto& row : tx_.exec(kLockGroup, group)) {
        const auto other = row[0].as<std::int64_t>();
        if (other != except) go_canceling(other, false);
    }
}

}  // namespace lava::server::store
