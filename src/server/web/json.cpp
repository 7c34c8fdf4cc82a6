#include "server/web/json.hpp"

#include "common/proto/events.hpp"

namespace lava::server::web {

using common::data::Kind;
using common::data::Value;

namespace {
std::string trim_micro(const std::string& iso) {
    if (iso.size() > 7 && iso.compare(iso.size() - 7, 7, ".000000") == 0) return iso.substr(0, iso.size() - 7);
    return iso;
}
}  // namespace

std::string drf_datetime(const std::string& iso) { return trim_micro(iso) + "Z"; }

nlohmann::json drf_datetime(const std::optional<std::string>& iso) {
    if (!iso) return nullptr;
    return drf_datetime(*iso);
}

std::string event_datetime(const std::string& iso) { return trim_micro(iso) + "+00:00"; }

nlohmann::json to_json(const Value& v) {
    switch (v.kind()) {
        case Kind::kUndefined:
        case Kind::kNone: return nullptr;
        case Kind::kBool: return v.as_bool();
        case Kind::kInt: return v.as_int();
        case Kind::kFloat: return v.as_number();
        case Kind::kStr: return v.as_str();
        case Kind::kDate: return v.date_text();
        case Kind::kList:
        case Kind::kTuple: {
            auto arr = nlohmann::json::array();
            for (const auto& item : v.as_list()) arr.push_back(to_json(item));
            return arr;
        }
        case Kind::kDict: {
            auto obj = nlohmann::json::object();
            for (const auto& [k, val] : v.as_dict()) obj[k.str()] = to_json(val);
            return obj;
        }
    }
    return nullptr;
}

nlohmann::json job_json(const store::Job& j, bool with_token) {
    nlohmann::json out = {
        {"id", j.id},
        {"submitter", j.submitter},
        {"viewing_groups", j.viewing_groups},
        {"description", j.description},
        {"health_check", j.health_check},
        {"requested_device_type", j.requested_device_type ? nlohmann::json(*j.requested_device_type) : nlohmann::json()},
        {"tags", j.tags},
        {"actual_device", j.actual_device ? nlohmann::json(*j.actual_device) : nlohmann::json()},
        {"submit_time", drf_datetime(j.submit_time)},
        {"start_time", drf_datetime(j.start_time)},
        {"end_time", drf_datetime(j.end_time)},
        {"state", std::string(proto::display(j.state))},
        {"health", std::string(proto::display(j.health))},
        {"priority", j.priority},
        {"definition", j.definition},
        {"original_definition", j.original_definition},
        {"multinode_definition", j.multinode_definition},
        {"failure_tags", j.failure_tags},
        {"failure_comment", j.failure_comment ? nlohmann::json(*j.failure_comment) : nlohmann::json()},
    };
    if (with_token) out["token"] = j.token;
    return out;
}

nlohmann::json testjob_event(const store::Job& j) {
    proto::TestJobEvent e;
    e.health = proto::display(j.health);
    e.state = proto::display(j.state);
    e.job = j.id;
    e.description = j.description;
    e.priority = j.priority;
    e.submit_time = event_datetime(j.submit_time);
    e.submitter = j.submitter;
    e.health_check = j.health_check;
    if (!j.sub_id.empty()) e.sub_id = j.sub_id;
    e.device = j.actual_device;
    e.worker = j.worker;
    e.device_type = j.requested_device_type;
    if (j.start_time) e.start_time = event_datetime(*j.start_time);
    if (j.end_time) e.end_time = event_datetime(*j.end_time);
    return proto::to_json(e);
}

nlohmann::json device_event(const store::Device& d) {
    proto::DeviceEvent e;
    e.health = proto::display(d.health);
    e.state = proto::display(d.state);
    e.device = d.hostname;
    e.device_type = d.device_type;
    e.worker = d.worker;
    if (d.current_job) e.job = std::to_string(*d.current_job);
    return proto::to_json(e);
}

nlohmann::json worker_event(const store::Worker& w) {
    return proto::to_json(
        proto::WorkerEvent{w.hostname, std::string(proto::display(w.health)), std::string(proto::display(w.state))});
}

}  // namespace lava::server::web
