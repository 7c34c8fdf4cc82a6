#pragma once
// Workers (lab hosts running lava-worker) and their append-only state/health
// history. Repository over the caller's transaction; no state of its own.

#include "common/base/error.hpp"
#include "common/db/pool.hpp"
#include "common/proto/states.hpp"
#include "server/store/change.hpp"

#include <optional>
#include <string>
#include <vector>

namespace lava::server::store {

struct Worker {
    std::string hostname;
    std::optional<std::string> description;  // nullopt: never given (LAVA's None)
    proto::WorkerState state = proto::WorkerState::kOffline;
    proto::WorkerHealth health = proto::WorkerHealth::kActive;
    std::optional<std::string> last_ping;
    int job_limit = 0;
    std::optional<std::string> version;  // nullopt until its first ping
    std::string token;
    long device_count = 0;
};

struct NewWorker {
    std::string hostname;
    std::optional<std::string> description;
    proto::WorkerHealth health = proto::WorkerHealth::kActive;
    int job_limit = 0;
};

struct WorkerUpdate {
    std::optional<std::string> description;
    std::optional<proto::WorkerHealth> health;
    std::optional<int> job_limit;
};

class WorkerRepository {
public:
    explicit WorkerRepository(common::db::Tx& tx) : tx_(tx) {}
    // Creates the worker with a fresh 32-character token.
    Result<Worker> create(const NewWorker& worker, const Change& change);
    Result<Worker> get(const std::string& hostname);
    // Retired workers are hidden unless include_retired.
    std::vector<Worker> list(bool include_retired);
    // A health change cascades to the worker's devices as in LAVA: going
    // Retired retires every device that is not Bad or Retired; going Active
    // (from Maintenance) moves Good devices to Unknown so they are re-checked.
    Result<Worker> update(const std::string& hostname, const WorkerUpdate& update,
                          const Change& change);

    // A ping (worker API): stores the version; `online` sets last_ping and
    // brings an Offline worker Online, otherwise the worker goes Offline.
    // Returns whether the state changed. The worker must exist.
    bool record_ping(const std::string& hostname, const std::string& version, bool online,
                     const Change& change);

    // Online workers silent for more than `seconds` go Offline (recorded in
    // their history); returns their hostnames.
    std::vector<std::string> expire_silent(long seconds, const Change& change);

private:
    common::db::Tx& tx_;
};

}  // namespace lava::server::store
