#pragma once
// Splits a MultiNode job into one definition per role instance, as LAVA's
// server does at submission (lava-protocols.md §7.2): each sub-definition
// keeps the job-wide keys (job_name, timeouts, priority, visibility, notify,
// metadata, reboot_to_fastboot), takes its role's device_type / connection /
// host_role / context, carries protocols.lava-multinode = {target_group, role,
// group_size, sub_id, the role's other keys, the protocol's other keys}, and
// only the actions whose `role` list names its role (with `role` collapsed to
// that name). Stateless; thread-safe.

#include "common/base/error.hpp"
#include "common/data/value.hpp"

#include <string>
#include <vector>

namespace lava::common::job {

struct SubJob {
    std::string role;
    int sub_id = 0;          // 0 .. group_size-1, in role order
    data::Value definition;  // a job definition (mapping)
};

// `job` must have passed validation and carry protocols.lava-multinode.
Result<std::vector<SubJob>> split_multinode(const data::Value& job, const std::string& target_group);

}  // namespace lava::common::job
