#pragma once
// A one-look summary of the lab for `lava-server manage status` and, later,
// health endpoints: schema version and object counts by state and health.

#include "common/db/pool.hpp"

#include <map>
#include <string>

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

}  // namespace lava::server::store
