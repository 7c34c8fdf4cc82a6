#include "server/store/lab_status.hpp"

#include "common/proto/states.hpp"

namespace lava::server::store {
namespace {

using common::db::Statement;

const Statement kSummary{
    "status.summary",
    "SELECT (SELECT coalesce(max(version), 0) FROM lava_schema_migrations), current_database(), "
    "current_setting('server_version'), (SELECT count(*) FROM users WHERE is_active), "
    "(SELECT count(*) FROM device_types)"};
const Statement kWorkerStates{"status.worker_states",
                              "SELECT state, count(*) FROM workers GROUP BY state"};
const Statement kWorkerHealths{"status.worker_healths",
                               "SELECT health, count(*) FROM workers GROUP BY health"};
const Statement kDeviceStates{"status.device_states",
                              "SELECT state, count(*) FROM devices GROUP BY state"};
const Statement kDeviceHealths{"status.device_healths",
                               "SELECT health, count(*) FROM devices GROUP BY health"};
const Statement kJobStates{"status.job_states",
                           "SELECT state, count(*) FROM test_jobs GROUP BY state"};

const Statement kQueueLengths{
    "status.queue_lengths",
    "SELECT coalesce(j.requested_device_type, ''), count(*), coalesce(q.waiting_reason, '') "
    "FROM test_jobs j LEFT JOIN device_type_queues q ON q.device_type = j.requested_device_type "
    "WHERE j.state = 0 GROUP BY 1, 3 ORDER BY 1"};

// Counts keyed by display name; every known value is present, zero or not.
template <class Enum>
std::map<std::string, long> counts(common::db::Tx& tx, const Statement& s) {
    std::map<std::string, long> out;
    for (auto name : proto::EnumNames<Enum>::names) out[std::string(name)] = 0;
    for (const auto& r : tx.exec(s)) {
        if (auto e = proto::from_int<Enum>(r[0].as<int>())) {
            out[std::string(proto::display(*e))] = r[1].as<long>();
        }
    }
    return out;
}

}  // namespace

LabStatus lab_status(common::db::Tx& tx) {
    LabStatus s;
    const auto row = tx.exec1(kSummary);
    s.schema_version = row[0].as<int>();
    s.database = row[1].as<std::string>();
    s.server_version = row[2].as<std::string>();
    s.users = row[3].as<long>();
    s.device_types = row[4].as<long>();
    s.workers_by_state = counts<proto::WorkerState>(tx, kWorkerStates);
    s.workers_by_health = counts<proto::WorkerHealth>(tx, kWorkerHealths);
    s.devices_by_state = counts<proto::DeviceState>(tx, kDeviceStates);
    s.devices_by_health = counts<proto::DeviceHealth>(tx, kDeviceHealths);
    s.jobs_by_state = counts<proto::JobState>(tx, kJobStates);
    return s;
}

std::vector<QueueLength> queue_lengths(common::db::Tx& tx) {
    std::vector<QueueLength> out;
    for (const auto& r : tx.exec(kQueueLengths)) {
        out.push_back(QueueLength{r[0].as<std::string>(), r[1].as<long>(), r[2].as<std::string>()});
    }
    return out;
}

}  // namespace lava::server::store
