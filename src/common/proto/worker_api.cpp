#include "common/proto/worker_api.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace lava::proto {
namespace {

using nlohmann::json;

Error bad(const std::string& message) { return make_error(errc::kInvalidArgument, message); }

// Job and worker tokens: 32 characters from [a-zA-Z0-9] (LAVA's get_random_string(32)).
bool is_token(const std::string& t) {
    return t.size() == 32 && std::all_of(t.begin(), t.end(), [](unsigned char c) { return std::isalnum(c); });
}

bool is_hostname(const std::string& n) {
    return !n.empty() && std::all_of(n.begin(), n.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_' || c == '.';
    });
}

// Python's str.capitalize().
std::string capitalized(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
    return s;
}

std::optional<std::string> field(const FormFields& f, const std::string& name) {
    for (const auto& [k, v] : f) {
        if (k == name) return v;
    }
    return std::nullopt;
}

// A required string member.
Result<std::string> string_member(const json& j, const char* name) {
    if (!j.is_object() || !j.contains(name)) return bad(std::string("missing '") + name + "'");
    if (!j[name].is_string()) return bad(std::string("'") + name + "' is not a string");
    return j[name].get<std::string>();
}

Result<std::vector<JobRef>> job_refs(const json& j, const char* name) {
    if (!j.contains(name) || !j[name].is_array()) return bad(std::string("'") + name + "' is not a list");
    std::vector<JobRef> out;
    for (const auto& item : j[name]) {
        if (!item.is_object() || !item.contains("id") || !item["id"].is_number_integer()) {
            return bad(std::string("'") + name + "' item without an integer 'id'");
        }
        auto token = string_member(item, "token");
        if (!token) return token.error();
        if (!is_token(*token)) return bad(std::string("'") + name + "' item with a malformed token");
        out.push_back(JobRef{item["id"].get<std::int64_t>(), *token});
    }
    return out;
}

json refs_json(const std::vector<JobRef>& refs) {
    json out = json::array();
    for (const auto& r : refs) out.push_back({{"id", r.id}, {"token", r.token}});
    return out;
}

}  // namespace

json to_json(const RegisterReply& m) { return {{"name", m.name}, {"token", m.token}}; }
json to_json(const PingReply& m) {
    return {{"cancel", refs_json(m.cancel)}, {"running", refs_json(m.running)}, {"start", refs_json(m.start)}};
}
json to_json(const JobPayload& m) {
    return {{"definition", m.definition},
            {"device", m.device},
            {"dispatcher", m.dispatcher},
            {"env", m.env},
            {"env-dut", m.env_dut}};
}
json to_json(const LogReply& m) { return {{"line_count", m.line_count}}; }
json to_json(const ErrorReply& m) { return {{"error", m.error}}; }

Result<RegisterReply> parse_register_reply(const json& j) {
    auto name = string_member(j, "name");
    if (!name) return name.error();
    auto token = string_member(j, "token");
    if (!token) return token.error();
    if (!is_token(*token)) return bad("malformed 'token'");
    return RegisterReply{*name, *token};
}

Result<PingReply> parse_ping_reply(const json& j) {
    if (!j.is_object()) return bad("not an object");
    PingReply out;
    for (auto [name, list] : {std::pair{"cancel", &out.cancel}, std::pair{"running", &out.running},
                              std::pair{"start", &out.start}}) {
        auto refs = job_refs(j, name);
        if (!refs) return refs.error();
        *list = std::move(*refs);
    }
    return out;
}

Result<JobPayload> parse_job_payload(const json& j) {
    JobPayload out;
    for (auto [name, member] : {std::pair{"definition", &out.definition}, std::pair{"device", &out.device},
                                std::pair{"dispatcher", &out.dispatcher}, std::pair{"env", &out.env},
                                std::pair{"env-dut", &out.env_dut}}) {
        auto v = string_member(j, name);
        if (!v) return v.error();
        *member = std::move(*v);
    }
    return out;
}

Result<LogReply> parse_log_reply(const json& j) {
    if (!j.is_object() || !j.contains("line_count") || !j["line_count"].is_number_integer()) {
        return bad("missing integer 'line_count'");
    }
    return LogReply{j["line_count"].get<long long>()};
}

Result<ErrorReply> parse_error_reply(const json& j) {
    auto e = string_member(j, "error");
    if (!e) return e.error();
    return ErrorReply{*e};
}

bool StatePost::finished() const { return capitalized(state) == "Finished"; }

FormFields to_form(const RegisterRequest& m) {
    FormFields f{{"name", m.name}};
    if (m.username) f.emplace_back("username", *m.username);
    if (m.password) f.emplace_back("password", *m.password);
    return f;
}

FormFields to_form(const StatePost& m) {
    FormFields f{{"state", m.state}};
    if (m.result) f.emplace_back("result", *m.result);
    if (m.error_type) f.emplace_back("error_type", *m.error_type);
    if (m.errors) f.emplace_back("errors", *m.errors);
    if (m.description) f.emplace_back("description", *m.description);
    return f;
}

FormFields to_form(const LogBatch& m) { return {{"lines", m.lines}, {"index", std::to_string(m.index)}}; }

Result<RegisterRequest> parse_register_request(const FormFields& f) {
    auto name = field(f, "name");
    if (!name) return bad("Missing 'name'");
    if (!is_hostname(*name)) return bad("Invalid 'name' '" + *name + "': letters, digits, '-', '_' and '.' only");
    return RegisterRequest{*name, field(f, "username"), field(f, "password")};
}

Result<StatePost> parse_state_post(const FormFields& f) {
    StatePost m;
    m.state = field(f, "state").value_or("");
    m.result = field(f, "result");
    m.error_type = field(f, "error_type");
    m.errors = field(f, "errors");
    m.description = field(f, "description");
    // The server's checks, in its order and words.
    const std::string state = capitalized(m.state);
    if (state != "Running" && state != "Finished") {
        const bool known = state == "Submitted" || state == "Scheduling" || state == "Scheduled" || state == "Canceling";
        return bad((known ? "Not handled state '" : "Invalid state '") + state + "'");
    }
    if (state == "Finished" && m.result != "pass" && m.result != "fail") {
        return bad("Invalid health '" + m.result.value_or("") + "'");
    }
    return m;
}

Result<LogBatch> parse_log_batch_form(const FormFields& f) {
    auto lines = field(f, "lines");
    if (!lines || lines->empty()) return bad("Missing 'lines'");
    auto index = field(f, "index");
    if (!index) return bad("Missing 'index'");
    try {
        std::size_t used = 0;
        const long long n = std::stoll(*index, &used);
        if (used != index->size()) return bad("Invalid 'index'");
        return LogBatch{*lines, n};
    } catch (const std::exception&) {
        return bad("Invalid 'index'");
    }
}

}  // namespace lava::proto
