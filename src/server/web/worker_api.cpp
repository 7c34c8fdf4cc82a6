// The worker API, /scheduler/internal/v1/ (lava-protocols.md §1.1-1.6), as
// LAVA 2023.01 serves it, so real lava-worker and lava-run processes work
// against lava-server: registration, ping, job fetch, state posts, log
// upload. Errors are {"error": "..."}; tokens are compared in constant time.

#include "common/base/text.hpp"
#include "common/crypto/password.hpp"
#include "common/log/log.hpp"
#include "common/proto/events.hpp"
#include "common/proto/logline.hpp"
#include "common/proto/worker_api.hpp"
#include "common/yaml/dump.hpp"
#include "common/yaml/load.hpp"
#include "server/store/job_output.hpp"
#include "server/store/jobs.hpp"
#include "server/store/results.hpp"
#include "server/store/transitions.hpp"
#include "server/store/workers.hpp"
#include "server/web/app.hpp"
#include "server/web/jobs_service.hpp"
#include "server/web/json.hpp"
#include "server/web/lab_service.hpp"
#include "server/web/log_ingest.hpp"

#include <arpa/inet.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <variant>
#include <cstring>
#include <sstream>

namespace lava::server::web {
namespace {

using common::data::Dict;
using common::data::Value;

constexpr const char* kActor = "lava-server";

HttpResponse error(int status, const std::string& text) {
    return json_response(status, proto::to_json(proto::ErrorReply{text}));
}
HttpResponse ok_json(const nlohmann::json& body) { return json_response(200, body); }

proto::FormFields form_of(const Call& call) {
    proto::FormFields out;
    for (const char* name : {"name", "username", "password", "state", "result", "error_type", "errors",
                             "description", "lines", "index"}) {
        if (auto v = call.field(name)) out.emplace_back(name, *v);
    }
    return out;
}

// LAVA-Token against the expected token: nullopt when it matches.
std::optional<HttpResponse> check_token(const Call& call, const std::string& expected) {
    const auto& headers = call.request.headers;
    const bool present = std::any_of(headers.begin(), headers.end(), [](const auto& h) { return h.first == "lava-token"; });
    if (!present) return error(400, "Missing 'token'");
    const auto header = call.request.header("lava-token");
    if (!common::crypto::constant_time_equal(header, expected)) return error(400, "Invalid 'token'");
    return std::nullopt;
}

HttpResponse unknown_job(const Call& call) { return error(404, "Unknown job '" + call.params.at("id") + "'"); }

// The job in the path, if the request carries its token; else the error reply.
std::variant<store::Job, HttpResponse> token_job(Call& call) {
    const auto id = id_param(call);
    auto job = id ? store::JobRepository(call.tx).get(*id) : std::nullopt;
    if (!job) return unknown_job(call);
    if (auto bad = check_token(call, job->token)) return *bad;
    return std::move(*job);
}

// ------------------------------------------------------------ addresses

struct Network {
    int family = AF_INET;
    std::array<unsigned char, 16> bytes{};
    int prefix = 0;
};

std::optional<std::pair<int, std::array<unsigned char, 16>>> parse_ip(std::string text) {
    std::array<unsigned char, 16> out{};
    if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
    if (inet_pton(AF_INET, text.c_str(), out.data()) == 1) return std::make_pair(AF_INET, out);
    if (inet_pton(AF_INET6, text.c_str(), out.data()) == 1) {
        // An IPv4-mapped address is its IPv4 address.
        static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::memcmp(out.data(), kMapped, 12) == 0) {
            std::array<unsigned char, 16> v4{};
            std::memcpy(v4.data(), out.data() + 12, 4);
            return std::make_pair(AF_INET, v4);
        }
        return std::make_pair(AF_INET6, out);
    }
    return std::nullopt;
}

std::optional<Network> parse_network(const std::string& text) {
    const auto slash = text.find('/');
    auto ip = parse_ip(text.substr(0, slash));
    if (!ip) return std::nullopt;
    Network n{ip->first, ip->second, ip->first == AF_INET ? 32 : 128};
    if (slash != std::string::npos) {
        try {
            n.prefix = std::stoi(text.substr(slash + 1));
        } catch (const std::exception&) {
            return std::nullopt;
        }
        if (n.prefix < 0 || n.prefix > (n.family == AF_INET ? 32 : 128)) return std::nullopt;
    }
    return n;
}

bool in_network(const std::pair<int, std::array<unsigned char, 16>>& ip, const Network& n) {
    if (ip.first != n.family) return false;
    int bits = n.prefix;
    for (std::size_t i = 0; bits > 0; ++i, bits -= 8) {
        const unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
        if ((ip.second[i] & mask) != (n.bytes[i] & mask)) return false;
    }
    return true;
}

bool ip_allowed(const std::string& ip_text, const std::string& rules) {
    const auto ip = parse_ip(ip_text);
    if (!ip) return false;
    std::stringstream in(rules);
    for (std::string rule; std::getline(in, rule, ',');) {
        rule.erase(0, rule.find_first_not_of(' '));
        rule.erase(rule.find_last_not_of(' ') + 1);
        if (auto n = parse_network(rule); n && in_network(*ip, *n)) return true;
    }
    return false;
}

// The client's address: the peer's, unless the peer is a proxy the operator
// trusts (trusted_proxies). Then it is the right-most address of
// X-Forwarded-For that is not a trusted proxy: what the outermost trusted
// proxy saw, since each proxy appends the address it received from, while
// whatever stands to the left of it is the client's own claim. (LAVA takes
// the first address whenever the header is there.)
std::string client_ip(const Call& call) {
    const std::string& trusted = call.app.settings().web.trusted_proxies;
    std::string ip = call.request.remote_address;
    if (trusted.empty() || !ip_allowed(ip, trusted)) return ip;
    std::vector<std::string> hops;
    std::stringstream in{std::string(call.request.header("x-forwarded-for"))};
    for (std::string hop; std::getline(in, hop, ',');) hops.emplace_back(lava::trim(hop));
    for (auto hop = hops.rbegin(); hop != hops.rend(); ++hop) {
        ip = *hop;
        if (!ip_allowed(ip, trusted)) break;
    }
    return ip;
}

// ------------------------------------------------------------ workers

HttpResponse register_worker(Call& call) {
    const auto& settings = call.app.settings().web;
    if (!settings.worker_auto_register) return error(403, "Auto registration is disabled");
    auto request = proto::parse_register_request(form_of(call));
    if (!request) return error(400, request.error().message);
    const auto name = std::optional<std::string>(request->name);
    const auto& username = request->username;
    const auto& password = request->password;
    store::WorkerRepository workers(call.tx);
    std::string description;
    if (username && !username->empty() && password && !password->empty()) {
        auto user = store::UserRepository(call.tx).authenticate(*username, *password);
        if (!user) return error(403, "Unknown user " + *username);
        if (auto existing = workers.get(*name)) {
            if (!user->is_superuser) return error(403, "Worker '" + *name + "' already registered");
            return ok_json(proto::to_json(proto::RegisterReply{*name, existing->token}));
        }
        description = "Auto registered by " + *username;
    } else {
        const std::string ip = client_ip(call);
        if (ip.empty()) return error(400, "Missing client ip");
        if (!ip_allowed(ip, settings.worker_auto_register_netmask)) {
            return error(403, "Auto registration is forbidden for '" + ip + "'");
        }
        if (workers.get(*name)) return error(403, "Worker '" + *name + "' already registered");
        description = "Auto registered by " + ip;
    }
    store::NewWorker w;
    w.hostname = *name;
    w.description = description;
    auto created = workers.create(w, store::Change{kActor, description});
    if (!created) return error(400, created.error().message);
    queue_worker_event(call, *name);
    return ok_json(proto::to_json(proto::RegisterReply{*name, created->token}));
}

HttpResponse ping(Call& call) {
    const auto& hostname = call.params.at("hostname");
    store::WorkerRepository workers(call.tx);
    auto worker = workers.get(hostname);
    if (!worker) return error(404, "Unknown worker '" + hostname + "'");
    if (auto bad = check_token(call, worker->token)) return *bad;
    const auto version = call.query("version");
    if (!version) return error(400, "Missing 'version'");
    const bool mismatch = *version != LAVA_PROTOCOL_VERSION;
    const bool serve = !mismatch || call.app.settings().web.allow_version_mismatch;
    if (workers.record_ping(hostname, *version, serve,
                            store::Change{kActor, serve ? "ping" : "version mismatch " + *version})) {
        queue_worker_event(call, hostname);
    }
    proto::PingReply reply;
    for (const auto& j : store::JobRepository(call.tx).worker_jobs(hostname)) {
        const proto::JobRef item{j.id, j.token};
        if (j.state == proto::JobState::kScheduled && serve) reply.start.push_back(item);
        if (j.state == proto::JobState::kCanceling) reply.cancel.push_back(item);
        if (j.state == proto::JobState::kRunning) reply.running.push_back(item);
    }
    if (!serve && reply.cancel.empty() && reply.running.empty()) {
        // The version was stored and the worker put Offline: keep that.
        call.keep_changes = true;
        return error(409, "Version mismatch '" + *version + "' vs '" + LAVA_PROTOCOL_VERSION + "'");
    }
    return ok_json(proto::to_json(reply));
}

// ------------------------------------------------------------ jobs

// LAVA replaces remote-artifact token names by their values in deploy
// headers (one nested level) and in secrets.
Value substitute_tokens(const Value& def, const std::map<std::string, std::string>& tokens) {
    if (tokens.empty() || !def.is_dict()) return def;
    auto replace_headers = [&](const Value& v) -> Value {
        if (!v.is_dict() || !v.find("url") || !v.find("headers") || !v.find("headers")->is_dict()) return v;
        Dict headers;
        for (const auto& [k, h] : v.find("headers")->as_dict()) {
            auto t = h.is_str() ? tokens.find(h.as_str()) : tokens.end();
            headers.emplace_back(k, t == tokens.end() ? h : Value(t->second));
        }
        Dict out;
        for (const auto& [k, x] : v.as_dict()) {
            out.emplace_back(k, k.is_str() && k.as_str() == "headers" ? Value(headers) : x);
        }
        return Value(std::move(out));
    };
    Dict top;
    for (const auto& [key, value] : def.as_dict()) {
        const std::string k = key.str();
        if (k == "actions" && value.is_list()) {
            common::data::List actions;
            for (const auto& action : value.as_list()) {
                const Value* deploy = action.is_dict() ? action.find("deploy") : nullptr;
                if (!deploy || !deploy->is_dict()) {
                    actions.push_back(action);
                    continue;
                }
                Dict d;
                for (const auto& [a, b] : deploy->as_dict()) {
                    Value nb = replace_headers(b);
                    if (nb.is_dict()) {
                        Dict inner;
                        for (const auto& [i, j] : nb.as_dict()) inner.emplace_back(i, replace_headers(j));
                        nb = Value(std::move(inner));
                    }
                    d.emplace_back(a, nb);
                }
                Dict act;
                for (const auto& [a, b] : action.as_dict()) {
                    act.emplace_back(a, a.is_str() && a.as_str() == "deploy" ? Value(d) : b);
                }
                actions.push_back(Value(std::move(act)));
            }
            top.emplace_back(key, Value(std::move(actions)));
        } else if (k == "secrets" && value.is_dict()) {
            Dict secrets;
            for (const auto& [s, v] : value.as_dict()) {
                auto t = v.is_str() ? tokens.find(v.as_str()) : tokens.end();
                secrets.emplace_back(s, t == tokens.end() ? v : Value(t->second));
            }
            top.emplace_back(key, Value(std::move(secrets)));
        } else {
            top.emplace_back(key, value);
        }
    }
    return Value(std::move(top));
}

// A per-worker file for a job (lab_service's lookup): "" when there is
// none; it must be YAML.
Result<std::string> worker_file(const App& app, const std::string& worker, WorkerFile kind, const char* name) {
    auto text = read_worker_file(app, worker, kind);
    if (!text) return std::string();
    if (!common::yaml::load(*text)) {
        return make_error(errc::kInvalidArgument, "Invalid YAML file for " + worker + ": " + name + " file");
    }
    return std::move(*text);
}

HttpResponse fetch_job(Call& call) {
    auto found = token_job(call);
    if (auto* e = std::get_if<HttpResponse>(&found)) return *e;
    const auto* job = &std::get<store::Job>(found);
    if (!job->actual_device || !job->worker) return error(400, "Job '" + std::to_string(job->id) + "' is not scheduled");

    auto doc = common::yaml::load(job->definition);
    if (!doc || !doc->is_dict()) return error(500, "Job '" + std::to_string(job->id) + "' has an invalid definition");
    // 2023.01 adds the pipeline compatibility to what the worker gets.
    Dict with_compat = doc->as_dict();
    with_compat.emplace_back(Value("compatibility"), Value(0));
    const Value stored(std::move(with_compat));
    const std::string stored_text = common::yaml::dump(stored);
    const Value sent = substitute_tokens(stored, store::TokenRepository(call.tx).remote_artifact_tokens(job->submitter_id));
    const std::string definition = common::yaml::dump(sent);

    Dict context;
    if (const Value* c = sent.find("context"); c && c->is_dict()) context = c->as_dict();
    auto device = call.app.devices().render_text(*job->actual_device, context);
    if (!device) return error(500, device.error().message);

    const auto& s = call.app.settings().web;
    std::map<std::string, std::string> files;
    for (const auto& [kind, name] : {std::pair{WorkerFile::kDispatcher, "dispatcher"},
                                     std::pair{WorkerFile::kEnv, "env"}, std::pair{WorkerFile::kEnvDut, "env-dut"}}) {
        auto text = worker_file(call.app, *job->worker, kind, name);
        if (!text) return error(500, text.error().message);
        files[name] = *text;
    }
    // What the worker got, kept with the job (LAVA's configuration files).
    const store::JobOutput output(s.job_output, job->id, job->submit_time);
    output.write_file("job.yaml", stored_text);
    output.write_file("device.yaml", *device);
    if (!files["dispatcher"].empty()) output.write_file("dispatcher.yaml", files["dispatcher"]);
    if (!files["env"].empty()) output.write_file("env.yaml", files["env"]);
    if (!files["env-dut"].empty()) output.write_file("env-dut.yaml", files["env-dut"]);
    return ok_json(proto::to_json(proto::JobPayload{definition, *device, files["dispatcher"], files["env"],
                                                    files["env-dut"]}));
}

// Seconds the job's boot blocks took: the durations of the top-level
// "lava" cases (level "N", no dot) whose action block N of the definition
// is a boot. nullopt when the job had none.
std::optional<double> boot_seconds(common::db::Tx& tx, const store::Job& job) {
    const auto definition = common::yaml::load(job.definition);
    if (!definition || !definition->is_dict()) return std::nullopt;
    const auto* actions = definition->find("actions");
    if (!actions || !actions->is_sequence()) return std::nullopt;
    store::ResultRepository results(tx);
    std::optional<std::int64_t> lava_suite;
    for (const auto& suite : results.suites(job.id, 1000, 0)) {
        if (suite.name == "lava") lava_suite = suite.id;
    }
    if (!lava_suite) return std::nullopt;
    std::optional<double> total;
    for (const auto& c : results.cases(job.id, lava_suite, 10000, 0)) {
        if (!c.metadata) continue;
        const auto meta = common::yaml::load(*c.metadata);
        if (!meta || !meta->is_dict()) continue;
        const auto* level = meta->find("level");
        const auto* duration = meta->find("duration");
        if (!level || !level->is_str() || !duration) continue;
        const std::string& l = level->as_str();
        if (l.empty() || l.find_first_not_of("0123456789") != std::string::npos) continue;
        const auto index = std::stoul(l);
        const auto& blocks = actions->as_list();
        if (index == 0 || index > blocks.size() || !blocks[index - 1].is_dict() || !blocks[index - 1].find("boot")) {
            continue;
        }
        const double seconds = duration->is_number() ? duration->as_number() : std::strtod(duration->str().c_str(), nullptr);
        total = total.value_or(0) + seconds;
    }
    return total;
}

HttpResponse post_state(Call& call) {
    auto found = token_job(call);
    if (auto* e = std::get_if<HttpResponse>(&found)) return *e;
    const auto* job = &std::get<store::Job>(found);
    store::JobRepository jobs(call.tx);
    // Checked as LAVA checks it: "Invalid state", "Not handled state", "Invalid health".
    const auto post = proto::parse_state_post(form_of(call));
    if (!post) return error(400, post.error().message);
    store::Touched touched;
    store::JobTransitions transitions(call.tx, touched, kActor);
    if (!post->finished()) {
        transitions.go_running(job->id);
    } else {
        const std::string result = *post->result;
        const std::string error_type = post->error_type.value_or("");
        const bool infrastructure = error_type == "Bug" || error_type == "Configuration" || error_type == "Infrastructure";
        transitions.go_finished(job->id, result == "pass" ? proto::JobHealth::kComplete : proto::JobHealth::kIncomplete,
                                infrastructure);
        if (post->errors && !post->errors->empty()) jobs.set_failure_comment(job->id, *post->errors);
        auto& metrics = call.app.metrics();
        const std::string device = job->actual_device.value_or("");
        if (infrastructure) {
            call.on_commit.push_back([&metrics, device, error_type] {
                metrics
                    .counter("lava_job_infrastructure_errors_total",
                             "Jobs ended by an infrastructure, configuration or bug error, by device", {"device", "error_type"})
                    .with({device, error_type})
                    .inc();
            });
        }
        if (const auto boot = boot_seconds(call.tx, *job)) {
            call.on_commit.push_back([&metrics, type = job->requested_device_type.value_or(""), seconds = *boot] {
                metrics
                    .histogram("lava_job_boot_seconds", "Time a job's boot actions took, by device type",
                               {"device_type"}, common::metrics::job_buckets())
                    .with({type})
                    .observe(seconds);
            });
        }
        const auto& s = call.app.settings().web;
        store::JobOutput(s.job_output, job->id, job->submit_time)
            .write_file("description.yaml", post->description.value_or(""));
    }
    queue_touched(call, touched);
    return ok_json(nlohmann::json::object());
}

HttpResponse post_logs(Call& call) {
    const auto id = id_param(call);
    store::JobRepository jobs(call.tx);
    // The row lock serializes the uploads of one job.
    const auto state = id ? jobs.lock_log(*id) : std::nullopt;
    if (!state) return unknown_job(call);
    if (auto bad = check_token(call, state->token)) return *bad;
    const auto batch = proto::parse_log_batch_form(form_of(call));
    if (!batch) return error(400, batch.error().message);
    const long long index = batch->index;
    auto lines = proto::parse_log_batch(batch->lines, proto::Records::kWhereNeeded);
    if (!lines) return error(400, "Invalid 'lines': " + lines.error().message);

    const auto& s = call.app.settings().web;
    store::JobOutput output(s.job_output, *id, state->submit_time);
    // Lines the server already has are skipped: never stored twice, and
    // their test cases not created again.
    long long skip = static_cast<long long>(state->extent.lines) - index;
    std::vector<std::string> rewritten;  // event lines, stored as debug
    rewritten.reserve(lines->size());
    std::vector<std::string_view> to_store;
    std::string levels;  // output.lvl's codes for to_store
    std::vector<store::NewTestCase> cases;
    std::string notes;
    for (const auto& line : *lines) {
        if (skip > 0) {
            --skip;
            continue;
        }
        const std::string& level = line.level();
        if (level == "event") {
            const Value* msg = line.record.find("msg");
            call.events.push_back(PendingEvent{".event", "lavaserver",
                                               nlohmann::json{{"message", to_json(*msg)}, {"job", *id}}.dump()});
            Dict relevelled;
            for (const auto& [k, v] : line.record.as_dict()) {
                relevelled.emplace_back(k, k.str() == "lvl" ? Value("debug") : v);
            }
            rewritten.push_back("- " + proto::dump_log_record(Value(std::move(relevelled))));
            to_store.emplace_back(rewritten.back());
            levels += proto::log_level_code("debug");
            continue;
        }
        to_store.emplace_back(line.text);
        levels += proto::log_level_code(level);
        if (level == "results") {
            auto mapped = map_result(*id, *line.record.find("msg"), output);
            if (mapped.failure_note) notes += mapped.failure_note->substr(0, 256);
            if (mapped.test_case) cases.push_back(std::move(*mapped.test_case));
        }
    }
    if (!to_store.empty()) {
        const auto extent = output.append({state->extent.lines, state->extent.bytes}, to_store, levels);
        if (extent.lines < state->extent.lines + to_store.size()) {
            common::log::get("logs")->warn("job {}: {} stored log lines were lost on disk; the log goes on without them",
                                           *id, state->extent.lines + to_store.size() - extent.lines);
        }
        jobs.set_log_extent(*id, extent.lines, extent.bytes);
        // The web UI's live tail (docs/adr/0011-web-ui.md, point 8): a notice
        // after the commit; viewers fetch the lines by range. One per upload
        // (lava-run sends one batch per job-log-interval).
        call.events.push_back(PendingEvent{".log", "lavaserver",
                                           proto::to_json(proto::LogNotice{*id, static_cast<std::int64_t>(extent.lines)}).dump()});
    }
    store::ResultRepository(call.tx).add(*id, cases);
    if (!notes.empty()) jobs.append_failure_comment(*id, notes);
    return ok_json(proto::to_json(proto::LogReply{static_cast<long long>(lines->size())}));
}

}  // namespace

void add_worker_routes(App& app) {
    const std::string base = "/scheduler/internal/v1/";
    app.route("POST", base + "workers/", register_worker, Access::kAnyone, Credentials::kNone);
    app.route("GET", base + "workers/{hostname}/", ping, Access::kAnyone, Credentials::kNone);
    app.route(
        "POST", base + "workers/{hostname}/", [](Call&) { return error(403, "POST is forbidden for such url"); },
        Access::kAnyone, Credentials::kNone);
    app.route("GET", base + "jobs/{id}/", fetch_job, Access::kAnyone, Credentials::kNone);
    app.route("POST", base + "jobs/{id}/", post_state, Access::kAnyone, Credentials::kNone);
    app.route("POST", base + "jobs/{id}/logs/", post_logs, Access::kAnyone, Credentials::kNone);
}

}  // namespace lava::server::web
