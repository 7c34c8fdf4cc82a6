#include "common/proto/events.hpp"

#include "common/proto/json.hpp"
#include "common/proto/states.hpp"

namespace lava::proto {
namespace {

using nlohmann::json;

Error bad(const std::string& message) { return make_error(errc::kInvalidArgument, message); }

Result<std::string> str(const json& j, const char* name) {
    if (!j.is_object() || !j.contains(name) || !j[name].is_string()) {
        return bad(std::string("'") + name + "' missing or not a string");
    }
    return j[name].get<std::string>();
}

std::optional<std::string> opt_str(const json& j, const char* name) {
    if (j.contains(name) && j[name].is_string()) return j[name].get<std::string>();
    return std::nullopt;
}

// A display name of `Enum` (as events carry them).
template <class Enum>
Result<std::string> display_name(const json& j, const char* name) {
    auto v = str(j, name);
    if (!v) return v.error();
    const auto parsed = parse<Enum>(*v);
    if (!parsed || display(*parsed) != *v) return bad(std::string("'") + name + "' is not a known " + *v);
    return v;
}

Result<std::int64_t> integer(const json& j, const char* name) {
    if (!j.is_object() || !j.contains(name) || !j[name].is_number_integer()) {
        return bad(std::string("'") + name + "' missing or not an integer");
    }
    return j[name].get<std::int64_t>();
}

}  // namespace

std::array<std::string, 5> to_frames(const Event& e) { return {e.topic, e.uuid, e.datetime, e.username, e.payload}; }

Result<Event> parse_frames(const std::vector<std::string>& f) {
    if (f.size() != 5) return bad("an event has 5 frames, not " + std::to_string(f.size()));
    if (std::string why; parse_json(f[4], &why).is_discarded()) return bad("the payload: " + why);
    return Event{f[0], f[1], f[2], f[3], f[4]};
}

std::string to_websocket_text(const Event& e) {
    return json::array({e.topic, e.uuid, e.datetime, e.username, e.payload})
        .dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Event> parse_websocket_text(const std::string& text) {
    const auto j = parse_json(text);
    if (!j.is_array()) return bad("not a JSON array");
    std::vector<std::string> frames;
    for (const auto& item : j) {
        if (!item.is_string()) return bad("a frame is not a string");
        frames.push_back(item.get<std::string>());
    }
    return parse_frames(frames);
}

json to_json(const TestJobEvent& e) {
    json j = {{"health", e.health},       {"state", e.state},         {"job", e.job},
              {"description", e.description}, {"priority", e.priority}, {"submit_time", e.submit_time},
              {"submitter", e.submitter}, {"health_check", e.health_check}};
    if (e.sub_id) j["sub_id"] = *e.sub_id;
    if (e.device) j["device"] = *e.device;
    if (e.worker) j["worker"] = *e.worker;
    if (e.device_type) j["device_type"] = *e.device_type;
    if (e.start_time) j["start_time"] = *e.start_time;
    if (e.end_time) j["end_time"] = *e.end_time;
    return j;
}

json to_json(const DeviceEvent& e) {
    json j = {{"health", e.health},
              {"state", e.state},
              {"device", e.device},
              {"device_type", e.device_type},
              {"worker", e.worker ? json(*e.worker) : json()}};
    if (e.job) j["job"] = *e.job;
    return j;
}

json to_json(const WorkerEvent& e) { return {{"hostname", e.hostname}, {"health", e.health}, {"state", e.state}}; }

json to_json(const LogEvent& e) { return {{"message", e.message}, {"job", e.job}}; }
json to_json(const LogNotice& e) { return {{"job", e.job}, {"lines", e.lines}}; }

Result<TestJobEvent> parse_testjob_event(const json& j) {
    TestJobEvent e;
    auto health = display_name<JobHealth>(j, "health");
    if (!health) return health.error();
    e.health = *health;
    auto state = display_name<JobState>(j, "state");
    if (!state) return state.error();
    e.state = *state;
    for (auto [name, member] : {std::pair{"description", &e.description}, std::pair{"submit_time", &e.submit_time},
                                std::pair{"submitter", &e.submitter}}) {
        auto v = str(j, name);
        if (!v) return v.error();
        *member = std::move(*v);
    }
    auto job = integer(j, "job");
    if (!job) return job.error();
    e.job = *job;
    auto priority = integer(j, "priority");
    if (!priority) return priority.error();
    e.priority = static_cast<int>(*priority);
    if (!j.contains("health_check") || !j["health_check"].is_boolean()) return bad("'health_check' is not a boolean");
    e.health_check = j["health_check"].get<bool>();
    e.sub_id = opt_str(j, "sub_id");
    e.device = opt_str(j, "device");
    e.worker = opt_str(j, "worker");
    e.device_type = opt_str(j, "device_type");
    e.start_time = opt_str(j, "start_time");
    e.end_time = opt_str(j, "end_time");
    return e;
}

Result<DeviceEvent> parse_device_event(const json& j) {
    DeviceEvent e;
    auto health = display_name<DeviceHealth>(j, "health");
    if (!health) return health.error();
    e.health = *health;
    auto state = display_name<DeviceState>(j, "state");
    if (!state) return state.error();
    e.state = *state;
    for (auto [name, member] : {std::pair{"device", &e.device}, std::pair{"device_type", &e.device_type}}) {
        auto v = str(j, name);
        if (!v) return v.error();
        *member = std::move(*v);
    }
    if (!j.contains("worker") || !(j["worker"].is_string() || j["worker"].is_null())) {
        return bad("'worker' must be a string or null");
    }
    e.worker = opt_str(j, "worker");
    e.job = opt_str(j, "job");
    return e;
}

Result<WorkerEvent> parse_worker_event(const json& j) {
    WorkerEvent e;
    auto hostname = str(j, "hostname");
    if (!hostname) return hostname.error();
    e.hostname = *hostname;
    auto health = display_name<WorkerHealth>(j, "health");
    if (!health) return health.error();
    e.health = *health;
    auto state = display_name<WorkerState>(j, "state");
    if (!state) return state.error();
    e.state = *state;
    return e;
}

Result<LogEvent> parse_log_event(const json& j) {
    if (!j.is_object() || !j.contains("message")) return bad("'message' missing");
    auto job = integer(j, "job");
    if (!job) return job.error();
    return LogEvent{j["message"], *job};
}

Result<LogNotice> parse_log_notice(const json& j) {
    if (!j.is_object() || j.size() != 2) return bad("a log notice is {\"job\", \"lines\"}");
    auto job = integer(j, "job");
    if (!job) return job.error();
    auto lines = integer(j, "lines");
    if (!lines) return lines.error();
    if (*lines < 0) return bad("'lines' is negative");
    return LogNotice{*job, *lines};
}

}  // namespace lava::proto
