#include "worker/worker/api.hpp"

#include "common/client/http.hpp"
#include "common/proto/json.hpp"

#include <nlohmann/json.hpp>

namespace lava::worker::worker {

namespace client = common::client;

namespace {

std::string server_error(const client::HttpResponse& r) {
    if (r.status == 0) return r.error;
    const auto json = proto::parse_json(r.body);
    if (json.is_object() && json.contains("error") && json["error"].is_string()) return json["error"].get<std::string>();
    return "HTTP " + std::to_string(r.status);
}

std::vector<JobRef> refs(const nlohmann::json& list) {
    std::vector<JobRef> out;
    if (!list.is_array()) return out;
    for (const auto& item : list) {
        if (!item.is_object() || !item.contains("id")) continue;
        JobRef ref;
        const auto& id = item["id"];
        // LAVA 2023.01 may send MultiNode sub ids as "12.1" strings; we keep ints.
        if (id.is_number_integer()) {
            ref.id = id.get<long long>();
        } else if (id.is_string()) {
            ref.id = std::atoll(id.get<std::string>().c_str());
        }
        if (item.contains("token") && item["token"].is_string()) ref.token = item["token"].get<std::string>();
        if (ref.id > 0) out.push_back(ref);
    }
    return out;
}

}  // namespace

WorkerApi::WorkerApi(std::string url, std::string name, std::chrono::seconds timeout)
    : url_(std::move(url)), name_(std::move(name)), timeout_(timeout) {
    while (!url_.empty() && url_.back() == '/') url_.pop_back();
}

namespace {

client::HttpResponse call(const std::string& method, const std::string& url, const std::string& token,
                          std::string body, std::chrono::seconds timeout) {
    client::HttpCall c;
    c.method = method;
    c.url = url;
    c.headers = {{"User-Agent", std::string("lava-worker ") + kProtocolVersion}, {"Accept", "application/json"}};
    if (!token.empty()) c.headers.emplace_back("LAVA-Token", token);
    if (method == "POST") c.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    c.body = std::move(body);
    c.deadline = std::chrono::steady_clock::now() + timeout;
    return client::http_request(c);
}

}  // namespace

PostReply WorkerApi::register_worker(const std::string& username, const std::string& password, std::string& token) const {
    std::string body = "name=" + client::form_encode(name_);
    if (!username.empty()) body += "&username=" + client::form_encode(username) + "&password=" + client::form_encode(password);
    const auto r = call("POST", url_ + "/scheduler/internal/v1/workers/", "", body, timeout_);
    PostReply out{r.status, r.status == 200 ? std::string() : server_error(r)};
    if (r.status == 200) {
        const auto json = proto::parse_json(r.body);
        if (json.is_object() && json.contains("token") && json["token"].is_string()) {
            token = json["token"].get<std::string>();
        } else {
            out.status = 0;
            out.error = "no token in the registration answer";
        }
    }
    return out;
}

PingReply WorkerApi::ping(const std::string& token) const {
    const auto r = call("GET", url_ + "/scheduler/internal/v1/workers/" + name_ + "/?version=" + kProtocolVersion, token,
                        "", timeout_);
    PingReply out;
    out.status = r.status;
    if (r.status != 200) {
        out.error = server_error(r);
        return out;
    }
    const auto json = proto::parse_json(r.body);
    if (!json.is_object()) {
        out.status = 0;
        out.error = "the ping answer is not a JSON object";
        return out;
    }
    out.start = refs(json.value("start", nlohmann::json::array()));
    out.cancel = refs(json.value("cancel", nlohmann::json::array()));
    out.running = refs(json.value("running", nlohmann::json::array()));
    return out;
}

JobFiles WorkerApi::fetch_job(const JobRef& job) const {
    const auto r = call("GET", url_ + "/scheduler/internal/v1/jobs/" + std::to_string(job.id) + "/", job.token, "", timeout_);
    JobFiles out;
    out.status = r.status;
    if (r.status != 200) {
        out.error = server_error(r);
        return out;
    }
    const auto json = proto::parse_json(r.body);
    const auto text = [&](const char* key) {
        return json.is_object() && json.contains(key) && json[key].is_string() ? json[key].get<std::string>() : std::string();
    };
    out.definition = text("definition");
    out.device = text("device");
    out.dispatcher = text("dispatcher");
    out.env = text("env");
    out.env_dut = text("env-dut");
    if (out.definition.empty() || out.device.empty()) {
        out.status = 0;
        out.error = "the job's definition or device is missing";
    }
    return out;
}

PostReply WorkerApi::post_running(const JobRef& job) const {
    const auto r = call("POST", url_ + "/scheduler/internal/v1/jobs/" + std::to_string(job.id) + "/", job.token,
                        "state=RUNNING", timeout_);
    return {r.status, r.status == 200 ? std::string() : server_error(r)};
}

PostReply WorkerApi::post_finished(const JobRef& job, const std::string& result, const std::string& error_type,
                                   const std::string& errors, const std::string& description) const {
    const std::string body = "state=FINISHED&result=" + client::form_encode(result) +
                             "&error_type=" + client::form_encode(error_type) + "&errors=" + client::form_encode(errors) +
                             "&description=" + client::form_encode(description);
    const auto r = call("POST", url_ + "/scheduler/internal/v1/jobs/" + std::to_string(job.id) + "/", job.token, body,
                        timeout_);
    return {r.status, r.status == 200 ? std::string() : server_error(r)};
}

}  // namespace lava::worker::worker
