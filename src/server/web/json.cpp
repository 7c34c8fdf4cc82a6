#include "server/web/json.hpp"


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
        // lava-cpp: why a Submitted job still waits (null otherwise).
        {"waiting_reason", j.state == proto::JobState::kSubmitted && !j.waiting_reason.empty()
                               ? nlohmann::json(j.waiting_reason)
                               : nlohmann::json()},
    };
    if (with_token) out["token"] = j.token;
    return out;
}

}  // namespace lava::server::web
