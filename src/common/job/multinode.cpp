#include "common/job/multinode.hpp"

#include <algorithm>

namespace lava::common::job {
namespace {

using data::Dict;
using data::List;
using data::Value;

void set(Dict& d, const std::string& key, Value v) {
    for (auto& [k, existing] : d) {
        if (k.is_str() && k.as_str() == key) {
            existing = std::move(v);
            return;
        }
    }
    d.emplace_back(Value(key), std::move(v));
}

Error invalid(std::string message) { return make_error(errc::kInvalidArgument, std::move(message)); }

}  // namespace

Result<std::vector<SubJob>> split_multinode(const Value& job, const std::string& target_group) {
    const Value* protocols = job.find("protocols");
    const Value* multinode = protocols ? protocols->find("lava-multinode") : nullptr;
    const Value* roles = multinode ? multinode->find("roles") : nullptr;
    if (!roles || !roles->is_dict()) return invalid("not a MultiNode job: no protocols.lava-multinode.roles");

    static const std::vector<std::string> kCopies = {"job_name",   "timeouts", "priority",
                                                     "visibility", "notify",   "metadata",
                                                     "reboot_to_fastboot"};
    static const std::vector<std::string> kScheduling = {"device_type", "connection", "host_role",
                                                         "context"};
    auto is_scheduling = [](const std::string& k) {
        return std::find(kScheduling.begin(), kScheduling.end(), k) != kScheduling.end();
    };

    long group_size = 0;
    for (const auto& [name, role] : roles->as_dict()) {
        if (const Value* count = role.find("count")) group_size += count->as_int();
    }

    struct Role {
        std::string name;
        long count = 0;
        Dict top;     // keys of the sub-job beside actions and protocols
        Dict params;  // protocols.lava-multinode
        List actions;
        std::string host_role;
    };
    std::vector<Role> parsed;
    for (const auto& [name_value, role] : roles->as_dict()) {
        Role r;
        r.name = name_value.str();
        for (const auto& key : kCopies) {
            if (const Value* v = job.find(key)) set(r.top, key, *v);
        }
        r.count = role.find("count") ? role.find("count")->as_int() : 0;
        set(r.params, "target_group", Value(target_group));
        set(r.params, "role", Value(r.name));
        set(r.params, "group_size", Value(group_size));
        set(r.params, "sub_id", Value(0));
        for (const auto& [k, v] : role.as_dict()) {
            const std::string key = k.str();
            if (key == "count") continue;
            if (is_scheduling(key)) {
                set(r.top, key, v);
                if (key == "host_role") r.host_role = v.str();
            } else {
                set(r.params, key, v);  // tags, environment, timeout, expect_role, essential, ...
            }
        }
        parsed.push_back(std::move(r));
    }

    // Actions: those naming the role, with `role` collapsed to that name.
    const Value* actions = job.find("actions");
    for (std::size_t i = 0; actions && i < actions->as_list().size(); ++i) {
        const Value& action = actions->as_list()[i];
        for (const auto& [type, body] : action.as_dict()) {
            const Value* role_list = body.find("role");
            if (!role_list || !role_list->is_list()) {
                return invalid("actions[" + std::to_string(i) + "]." + type.str() +
                               ": every action of a MultiNode job needs a 'role' list");
            }
            for (auto& r : parsed) {
                const auto& names = role_list->as_list();
                if (std::find(names.begin(), names.end(), Value(r.name)) == names.end()) continue;
                Dict copy = body.as_dict();
                set(copy, "role", Value(r.name));
                r.actions.push_back(Value(Dict{{type, Value(std::move(copy))}}));
            }
        }
    }

    // The protocol's own keys other than the roles (e.g. timeout) go to every role.
    for (const auto& [k, v] : multinode->as_dict()) {
        const std::string key = k.str();
        if (key == "role" || key == "roles") continue;
        for (auto& r : parsed) set(r.params, key, v);
    }

    for (const auto& r : parsed) {
        if (r.host_role.empty()) continue;
        auto host = std::find_if(parsed.begin(), parsed.end(),
                                 [&](const Role& x) { return x.name == r.host_role; });
        if (host == parsed.end()) {
            return invalid("role '" + r.name + "' names host_role '" + r.host_role +
                           "', which is not a role of this job");
        }
        if (host->count != 1) {
            return invalid("The count for a role designated as a host_role must be 1.");
        }
    }

    const Value* lxc = protocols->find("lava-lxc");
    const Value* vland = protocols->find("lava-vland");
    std::vector<SubJob> jobs;
    int sub_id = 0;
    for (const auto& r : parsed) {
        if (r.count > 0 && r.actions.empty()) {
            return invalid("role '" + r.name + "' has no actions: give at least one action a "
                           "role list that names it");
        }
        if (vland && r.count > 1) return invalid("vland protocol only supports one device per role.");
        for (long n = 0; n < r.count; ++n) {
            Dict params = r.params;
            set(params, "sub_id", Value(sub_id));
            Dict protocols_out{{Value("lava-multinode"), Value(std::move(params))}};
            if (lxc) {
                if (const Value* mine = lxc->find(r.name)) set(protocols_out, "lava-lxc", *mine);
            }
            if (vland) {
                if (const Value* mine = vland->find(r.name)) set(protocols_out, "lava-vland", *mine);
            }
            Dict definition{{Value("actions"), Value(r.actions)}};
            for (const auto& [k, v] : r.top) set(definition, k.str(), v);
            set(definition, "protocols", Value(std::move(protocols_out)));
            jobs.push_back(SubJob{r.name, sub_id, Value(std::move(definition))});
            ++sub_id;
        }
    }
    return jobs;
}

}  // namespace lava::common::job
