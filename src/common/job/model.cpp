#include "common/job/model.hpp"

#include "common/job/timeout.hpp"

#include <cmath>

namespace lava::common::job {
namespace {

using data::Value;

std::vector<std::string> strings(const Value* v) {
    std::vector<std::string> out;
    if (!v || !v->is_list()) return out;
    for (const auto& item : v->as_list()) out.push_back(item.str());
    return out;
}

std::chrono::seconds whole_seconds(const Value* timeout) {
    if (!timeout) return std::chrono::seconds(0);
    auto d = parse_timeout(*timeout);
    return std::chrono::seconds(d ? static_cast<long long>(std::llround(d->count())) : 0);
}

}  // namespace

JobDefinition read_job(const Value& doc) {
    JobDefinition j;
    if (const Value* v = doc.find("job_name")) j.name = v->str();
    if (const Value* v = doc.find("device_type")) j.device_type = v->str();
    if (const Value* p = doc.find("priority")) {
        if (p->is_str()) {
            j.priority = p->as_str() == "high" ? 100 : p->as_str() == "low" ? 0 : 50;
        } else if (p->is_number()) {
            j.priority = static_cast<int>(p->as_number());
        }
    }
    if (const Value* v = doc.find("visibility")) {
        if (v->is_str() && v->as_str() == "personal") {
            j.visibility.kind = Visibility::Kind::kPersonal;
        } else if (v->is_dict()) {
            j.visibility.kind = Visibility::Kind::kGroup;
            j.visibility.groups = strings(v->find("group"));
        }
    }
    j.tags = strings(doc.find("tags"));
    if (const Value* v = doc.find("context")) j.context = *v;
    if (const Value* t = doc.find("timeouts")) {
        j.job_timeout = whole_seconds(t->find("job"));
        if (const Value* q = t->find("queue")) j.queue_timeout = whole_seconds(q);
    }
    if (const Value* actions = doc.find("actions"); actions && actions->is_list()) {
        for (const auto& action : actions->as_list()) {
            if (!action.is_dict() || action.as_dict().empty()) continue;
            const auto& [type, body] = action.as_dict().front();
            ActionSummary a;
            a.type = type.str();
            if (a.type == "deploy" && body.find("to")) a.method = body.find("to")->str();
            if (a.type == "boot" && body.find("method")) a.method = body.find("method")->str();
            if (a.type == "command" && body.find("name")) a.method = body.find("name")->str();
            if (a.type == "test") {
                for (const char* kind : {"definitions", "interactive", "monitors"}) {
                    if (body.contains(kind)) {
                        a.method = kind;
                        break;
                    }
                }
            }
            if (const Value* ns = body.find("namespace")) a.namespace_name = ns->str();
            a.roles = strings(body.find("role"));
            j.actions.push_back(std::move(a));
        }
    }
    const Value* protocols = doc.find("protocols");
    const Value* multinode = protocols ? protocols->find("lava-multinode") : nullptr;
    const Value* roles = multinode ? multinode->find("roles") : nullptr;
    if (roles && roles->is_dict()) {
        for (const auto& [name, spec] : roles->as_dict()) {
            Role r;
            r.name = name.str();
            if (const Value* c = spec.find("count")) r.count = c->as_int();
            if (const Value* d = spec.find("device_type")) r.device_type = d->str();
            r.tags = strings(spec.find("tags"));
            if (const Value* e = spec.find("essential")) r.essential = e->truthy();
            if (const Value* h = spec.find("host_role")) r.host_role = h->str();
            j.roles.push_back(std::move(r));
        }
    }
    return j;
}

}  // namespace lava::common::job
