#pragma once
// A one-look summary of the lab for `lava-server manage status` and, later,
// health endpoints: schema version and object counts by state and health.

#include "common/db/pool.hpp"

#include <map>
#include <string>
#include <vector>

namespace lava::server::store {

struct LabStatus {
    int schema_version = 0;
    std::string database;  // current_database()
    std::string server_version;
    long users = 0;
    long device_types = 0;
    std::map<std::string, long> workers_by_state;   // "Online" -> n
    std::map<std::string, long> workers_by_health;  // "Active" -> n
    std::map<std::string, long> devices_by_health;  // "Good" -> n
    std::map<std::string, long> devices_by_state;   // "Idle" -> n
    std::map<std::string, long> jobs_by_state;      // "Submitted" -> n
};

LabStatus lab_status(common::db::Tx& tx);

// The Submitted jobs per device type, with the reason the scheduler last
// gave for that type's queue ("" before its first pass over it).
struct QueueLength {
    std::string device_type;
    long jobs = 0;
    std::string reason;
};
std::vector<QueueLength> queue_lengths(common::db::Tx& tx);

}  // namespace lava::server::store
