#include "server/store/workers.hpp"

#include "common/crypto/password.hpp"
#include "server/store/devices.hpp"
#include "server/store/names.hpp"
#include "server/store/sql.hpp"

#include <algorithm>

namespace lava::server::store {
namespace {

using common::db::Statement;
using proto::DeviceHealth;
using proto::WorkerHealth;

#define WORKER_SELECT                                                                   \
    "SELECT w.hostname, w.description, w.state, w.health, " LAVA_SQL_ISO("w.last_ping") \
    ", w.job_limit, w.version, w.token, "                                               \
    "(SELECT count(*) FROM devices d WHERE d.worker_host = w.hostname) FROM workers w "

const Statement kInsertWorker{
    "workers.insert",
    "INSERT INTO workers (hostname, description, health, job_limit, token, last_ping) "
    "VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT (hostname) DO NOTHING RETURNING state"};  // LAVA: default now
const Statement kGetWorker{"workers.get", WORKER_SELECT "WHERE w.hostname = $1"};
const Statement kListWorkers{"workers.list",
                             WORKER_SELECT "WHERE $1 OR w.health <> 2 ORDER BY w.hostname"};
const Statement kLockWorker{"workers.lock",
                            "SELECT state, health FROM workers WHERE hostname = $1 FOR UPDATE"};
const Statement kUpdateWorker{
    "workers.update",
    "UPDATE workers SET description = coalesce($2, description), health = coalesce($3, health), "
    "job_limit = coalesce($4, job_limit) WHERE hostname = $1"};
const Statement kExpireSilent{
    "workers.expire_silent",
    "WITH gone AS (UPDATE workers SET state = 1 WHERE state = 0 AND (last_ping IS NULL OR "
    "last_ping < now() - $1::bigint * interval '1 second') RETURNING hostname, health) "
    "INSERT INTO worker_state_changes (worker, actor, old_state, new_state, old_health, new_health, reason) "
    "SELECT hostname, $2, 0, 1, health, health, $3 FROM gone RETURNING worker"};
const Statement kWorkerHistory{
    "workers.history",
    "INSERT INTO worker_state_changes (worker, actor, old_state, new_state, old_health, "
    "new_health, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)"};
// Devices whose health follows a worker health change (rows locked).
const Statement kLockWorkerDevices{
    "workers.lock_devices",
    "SELECT hostname, state, health FROM devices WHERE worker_host = $1 ORDER BY hostname "
    "FOR UPDATE"};
const Statement kPing{"workers.ping",
                     "UPDATE workers SET version = $2, last_ping = CASE WHEN $3 THEN now() ELSE last_ping END, "
                     "state = CASE WHEN $3 THEN 0 ELSE 1 END WHERE hostname = $1"};

Worker to_worker(const pqxx::row& r) {
    Worker w;
    w.hostname = r[0].as<std::string>();
    w.description = optional_text(r[1]);
    w.state = static_cast<proto::WorkerState>(r[2].as<int>());
    w.health = static_cast<WorkerHealth>(r[3].as<int>());
    if (!r[4].is_null()) w.last_ping = r[4].as<std::string>();
    w.job_limit = r[5].as<int>();
    w.version = optional_text(r[6]);
    w.token = r[7].as<std::string>();
    w.device_count = r[8].as<long>();
    return w;
}

Result<void> check_job_limit(std::optional<int> limit) {
    if (limit && *limit < 0) {
        return make_error(errc::kInvalidArgument,
                          "invalid job limit " + std::to_string(*limit) + ": must be >= 0");
    }
    return {};
}

}  // namespace

Result<Worker> WorkerRepository::create(const NewWorker& w, const Change& change) {
    if (auto ok = check_name("worker hostname", w.hostname, 200); !ok) return ok.error();
    if (auto ok = check_job_limit(w.job_limit); !ok) return ok.error();
    auto r = tx_.exec(kInsertWorker, w.hostname, w.description, static_cast<int>(w.health),
                      w.job_limit, common::crypto::random_string(32));
    if (r.empty()) return already_exists("worker", w.hostname);
    tx_.exec(kWorkerHistory, w.hostname, change.actor, std::optional<int>{}, r[0][0].as<int>(),
             std::optional<int>{}, static_cast<int>(w.health), with_reason("created", change.reason));
    return get(w.hostname);
}

Result<Worker> WorkerRepository::get(const std::string& hostname) {
    auto row = tx_.exec01(kGetWorker, hostname);
    if (!row) return not_found("worker", hostname);
    return to_worker(*row);
}

std::vector<Worker> WorkerRepository::list(bool include_retired) {
    std::vector<Worker> out;
    for (const auto& row : tx_.exec(kListWorkers, include_retired)) out.push_back(to_worker(row));
    return out;
}

Result<Worker> WorkerRepository::update(const std::string& hostname, const WorkerUpdate& u,
                                        const Change& change) {
    if (auto ok = check_job_limit(u.job_limit); !ok) return ok.error();
    auto locked = tx_.exec01(kLockWorker, hostname);
    if (!locked) return not_found("worker", hostname);
    const int state = (*locked)[0].as<int>();
    const auto old_health = static_cast<WorkerHealth>((*locked)[1].as<int>());

    if (u.health && *u.health != old_health) {
        const auto new_health = *u.health;
        tx_.exec(kWorkerHistory, hostname, change.actor, state, state,
                 static_cast<int>(old_health), static_cast<int>(new_health),
                 with_reason(std::string(proto::display(old_health)) + " → " +
                                 std::string(proto::display(new_health)),
                             change.reason));
        // LAVA's device cascade (Device.worker_signal).
        DeviceRepository devices(tx_);
        for (const auto& d : tx_.exec(kLockWorkerDevices, hostname)) {
            const auto device_health = static_cast<DeviceHealth>(d[2].as<int>());
            std::optional<DeviceHealth> next;
            const char* why = "";
            if (new_health == WorkerHealth::kRetired) {
                if (device_health != DeviceHealth::kBad && device_health != DeviceHealth::kRetired) {
                    next = DeviceHealth::kRetired;
                    why = "worker going retired";
                }
            } else if (new_health == WorkerHealth::kActive && old_health != WorkerHealth::kRetired &&
                       device_health == DeviceHealth::kGood) {
                next = DeviceHealth::kUnknown;
                why = "worker going active";
            }
            if (!next) continue;
            devices.set_health(d[0].as<std::string>(),
                               static_cast<proto::DeviceState>(d[1].as<int>()), device_health,
                               *next, Change{change.actor, why});
        }
    }
    std::optional<int> health;
    if (u.health) health = static_cast<int>(*u.health);
    tx_.exec(kUpdateWorker, hostname, u.description, health, u.job_limit);
    return get(hostname);
}

std::vector<std::string> WorkerRepository::expire_silent(long seconds, const Change& change) {
    std::vector<std::string> out;
    for (const auto& row : tx_.exec(kExpireSilent, seconds, change.actor, change.reason)) {
        out.push_back(row[0].as<std::string>());
    }
    std::sort(out.begin(), out.end());
    return out;
}

bool WorkerRepository::record_ping(const std::string& hostname, const std::string& version, bool online,
                                   const Change& change) {
    const auto row = tx_.exec01(kLockWorker, hostname);
    if (!row) return false;
    const auto old_state = static_cast<proto::WorkerState>((*row)[0].as<int>());
    const auto health = (*row)[1].as<int>();
    const auto new_state = online ? proto::WorkerState::kOnline : proto::WorkerState::kOffline;
    tx_.exec(kPing, hostname, version, online);
    if (old_state == new_state) return false;
    tx_.exec(kWorkerHistory, hostname, change.actor, static_cast<int>(old_state), static_cast<int>(new_state), health,
             health,
             with_reason(std::string(proto::display(old_state)) + " → " + std::string(proto::display(new_state)),
                         change.reason));
    return true;
}

}  // namespace lava::server::store
