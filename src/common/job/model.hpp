#pragma once
// The typed view of a validated job definition that the server and lava-run
// act on; the document itself stays available for what is not modelled.

#include "common/data/value.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace lava::common::job {

struct Visibility {
    enum class Kind { kPublic, kPersonal, kGroup };
    Kind kind = Kind::kPublic;
    std::vector<std::string> groups;  // for kGroup
};

struct ActionSummary {
    std::string type;     // deploy, boot, test, command
    std::string method;   // deploy `to`, boot `method`, test kind (definitions,
                          // interactive, monitors), command `name`
    std::string namespace_name;
    std::vector<std::string> roles;
};

struct Role {
    std::string name;
    long count = 0;
    std::optional<std::string> device_type;  // absent for secondary connections
    std::vector<std::string> tags;
    bool essential = false;
    std::optional<std::string> host_role;
};

struct JobDefinition {
    std::string name;                        // job_name -> TestJob.description
    std::optional<std::string> device_type;  // absent for MultiNode
    int priority = 50;                       // 0..100; high 100, medium 50, low 0
    Visibility visibility;
    std::vector<std::string> tags;
    data::Value context;  // dict or None
    std::chrono::seconds job_timeout{0};
    std::optional<std::chrono::seconds> queue_timeout;
    std::vector<ActionSummary> actions;
    std::vector<Role> roles;  // MultiNode roles, in order; empty otherwise
    bool is_multinode() const { return !roles.empty(); }
};

// Reads the model from a document that passed JobValidator.
JobDefinition read_job(const data::Value& document);

}  // namespace lava::common::job
