// XML-RPC scheduler.jobs.* and the legacy scheduler.* job calls
// (lava-protocols.md §3.3): adapters over jobs_service and the store.

#include "common/base/clock.hpp"
#include "common/yaml/load.hpp"
#include "server/store/catalogue.hpp"
#include "server/store/job_output.hpp"
#include "server/store/results.hpp"
#include "server/web/jobs_service.hpp"
#include "server/web/rpc.hpp"

#include <algorithm>

namespace lava::server::web::rpc {
namespace {

// A submission's result as LAVA's XML-RPC returns it: the job id, or the
// MultiNode sub ids; failures as faults.
Value submitted(const Result<Submitted>& r) {
    if (!r) {
        const auto& e = r.error();
        if (e.code == submit_errc::kUnavailable) throw RpcFault{400, "Device unavailable: " + e.message};
        if (e.code == submit_errc::kNotFound) throw RpcFault{404, "Specified device or device type not found."};
        throw RpcFault{400, "Problem with submitted job data: " + e.message};
    }
    if (!r->multinode) return r->ids.front();
    Array ids;
    for (const auto& s : r->sub_ids) ids.push_back(s);
    return ids;
}

// LAVA's display_id: the job's id (an int), or for a MultiNode sub-job its
// "N.M" sub-id (a string).
Value display_id(const store::Job& job) { return job.sub_id.empty() ? Value(job.id) : Value(job.sub_id); }

Value submit(RpcCall& c) {
    c.require_user();
    return submitted(submit_job(c.http(), c.str(0)));
}

Value resubmit(RpcCall& c) {
    c.require_user();
    const auto job = visible_job(c, c.job_id(0));
    return submitted(resubmit_job(c.http(), job));
}

Value cancel(RpcCall& c) {
    c.require_user();
    const std::string id = c.has(0) ? c.job_id(0) : "";
    if (id.empty() || id == "0") throw RpcFault{400, "Bad request: TestJob id was not specified."};
    const auto job = visible_job(c, id);
    if (cancel_for(c.http(), job)) throw RpcFault{403, "Permission denied."};
    return true;
}

// The path of a problem as LAVA's validate reports it, str() of a Python
// list. Inside an action, LAVA names the action and its schema module, then
// the path in the action's body: "actions[2].test.definitions[0].name" ->
// "['actions[2]', 'test', 'definition', 'definitions', 0, 'name']". Elsewhere
// it is voluptuous's path, list indices as ints: "timeouts.job" ->
// "['timeouts', 'job']".
std::string python_path(const std::string& path, const common::data::Value& job) {
    struct Token {
        std::string text;
        bool index = false;
    };
    std::vector<Token> tokens;
    std::string token;
    const auto flush = [&](bool index) {
        if (!token.empty()) tokens.push_back({token, index});
        token.clear();
    };
    for (const char ch : path) {
        if (ch == '.' || ch == '[') {
            flush(false);
        } else if (ch == ']') {
            flush(true);
        } else {
            token += ch;
        }
    }
    flush(false);
    std::vector<std::string> out;
    std::size_t rest = 0;
    const auto* actions = job.find("actions");
    if (tokens.size() >= 3 && tokens[0].text == "actions" && tokens[1].index && actions && actions->is_list()) {
        const std::size_t i = std::stoul(tokens[1].text);
        const std::string& type = tokens[2].text;
        const auto* body = i < actions->as_list().size() ? actions->as_list()[i].find(type) : nullptr;
        if (body && body->is_dict()) {
            out = {"'actions[" + tokens[1].text + "]'", "'" + type + "'"};
            std::string method;
            if (type == "deploy" || type == "boot") {
                if (const auto* m = body->find(type == "deploy" ? "to" : "method"); m && m->is_str()) method = m->as_str();
            } else if (type == "test") {
                method = body->contains("definitions") ? (body->contains("docker") ? "docker" : "definition")
                         : body->contains("interactive") ? "interactive"
                         : body->contains("monitors")    ? "monitor"
                                                         : "";
            }
            std::replace(method.begin(), method.end(), '-', '_');
            if (!method.empty()) out.push_back("'" + method + "'");
            rest = 3;
        }
    }
    for (std::size_t k = rest; k < tokens.size(); ++k) {
        out.push_back(tokens[k].index ? tokens[k].text : "'" + tokens[k].text + "'");
    }
    std::string text = "[";
    for (std::size_t k = 0; k < out.size(); ++k) text += (k ? ", " : "") + out[k];
    return text + "]";
}

Value validate(RpcCall& c) {
    const auto mode = c.boolean(1, false) ? common::job::Strictness::kStrict : common::job::Strictness::kLenient;
    const auto check = c.http().app.validator(mode).check_yaml(c.str(0));
    if (check.ok()) return Struct{};
    const auto& first = check.issues.front();
    std::string msg = first.message;
    if (first.mark.line > 0) msg += " (line " + std::to_string(first.mark.line) + ")";
    return Value().set("path", python_path(first.path, check.document)).set("msg", msg);
}

Value visibility(RpcCall& c, const store::Job& job) {
    if (job.is_public) return "Public";
    if (job.viewing_groups.empty()) return "Personal";
    std::string names;
    store::GroupRepository groups(c.tx());
    for (const auto& g : groups.list()) {
        for (const auto id : job.viewing_groups) {
            if (id == g.id) names += (names.empty() ? "" : ", ") + g.name;
        }
    }
    return "Group (" + names + ")";
}

Value show(RpcCall& c) {
    const auto job = visible_job(c, c.job_id(0));
    Array tags;
    if (!job.tags.empty()) {
        for (const auto& t : store::TagRepository(c.tx()).list()) {
            if (std::find(job.tags.begin(), job.tags.end(), t.id) != job.tags.end()) tags.push_back(t.name);
        }
    }
    Value v;
    v.set("id", display_id(job));
    v.set("description", job.description);
    v.set("device", job.actual_device);
    v.set("device_type", job.requested_device_type);
    v.set("health_check", job.health_check);
    v.set("pipeline", true);
    v.set("health", std::string(proto::display(job.health)));
    v.set("state", std::string(proto::display(job.state)));
    v.set("submitter", job.submitter);
    v.set("submit_time", datetime_value(job.submit_time));
    v.set("start_time", datetime_value(job.start_time));
    v.set("end_time", datetime_value(job.end_time));
    v.set("tags", std::move(tags));
    v.set("visibility", visibility(c, job));
    v.set("failure_comment", job.failure_comment);
    // lava-cpp: why a Submitted job still waits.
    if (job.state == proto::JobState::kSubmitted && !job.waiting_reason.empty()) {
        v.set("waiting_reason", job.waiting_reason);
    }
    return v;
}

std::string minutes_ago(std::int64_t minutes) {
    return format_iso8601(std::chrono::system_clock::now() - std::chrono::minutes(minutes));
}

// The jobs of a listing: visible ones, newest first, LAVA's clamping of
// start and limit.
store::JobPage page_of(RpcCall& c, store::JobQuery q, std::int64_t start, std::int64_t limit) {
    q.ordering = "-id";
    q.offset = std::max<std::int64_t>(0, start);
    q.limit = std::min<std::int64_t>(limit, 100);
    if (q.limit <= 0) return {};
    auto r = store::JobRepository(c.tx()).list(q, c.who().user);
    if (!r) throw RpcFault{400, r.error().message};
    return std::move(*r);
}

Value list(RpcCall& c) {
    store::JobQuery q;
    const auto state = c.opt_str(0);
    const auto health = c.opt_str(1);
    if (state && !state->empty()) {
        if (!proto::parse<proto::JobState>(*state)) throw RpcFault{400, "Invalid state '" + *state + "'"};
        q.filters.emplace_back("state__iexact", *state);
    }
    if (health && !health->empty()) {
        if (!proto::parse<proto::JobHealth>(*health)) {
            throw RpcFault{400, "Invalid health '" + *health + "'"};
        }
        q.filters.emplace_back("health__iexact", *health);
    }
    if (const auto since = c.integer(4, 0); since > 0) q.filters.emplace_back("end_time__gt", minutes_ago(since));
    const bool verbose = c.boolean(5, false);
    const auto page = page_of(c, std::move(q), c.integer(2, 0), c.integer(3, 25));
    Array out;
    store::ResultRepository results(c.tx());
    for (const auto& job : page.jobs) {
        Value v;
        v.set("id", display_id(job));
        v.set("description", job.description);
        v.set("device_type", job.requested_device_type);
        v.set("health", std::string(proto::display(job.health)));
        v.set("state", std::string(proto::display(job.state)));
        v.set("submitter", job.submitter);
        if (verbose) {
            v.set("actual_device", job.actual_device);
            v.set("start_time", python_time(job.start_time));
            v.set("end_time", python_time(job.end_time));
            Value error_msg;
            Value error_type;
            if (const auto meta = results.case_metadata(job.id, "lava", "job")) {
                if (auto doc = common::yaml::load(*meta); doc && doc->is_dict()) {
                    if (const auto* m = doc->find("error_msg")) error_msg = m->str();
                    if (const auto* t = doc->find("error_type")) error_type = t->str();
                }
            }
            v.set("error_msg", std::move(error_msg));
            v.set("error_type", std::move(error_type));
        }
        out.push_back(std::move(v));
    }
    return out;
}

Value queue(RpcCall& c) {
    store::JobQuery q;
    q.filters.emplace_back("state", "Submitted");
    if (c.has(0)) {
        if (!c.at(0).is_array()) throw RpcFault{400, "device_types must be a list"};
        std::string names;
        for (const auto& t : c.at(0).as_array()) {
            if (t.is_string()) names += (names.empty() ? "" : ",") + t.as_string();
        }
        if (names.empty()) return Array{};
        q.filters.emplace_back("requested_device_type__in", names);
    }
    const auto page = page_of(c, std::move(q), c.integer(1, 0), c.integer(2, 25));
    Array out;
    for (const auto& job : page.jobs) {
        out.push_back(Value()
                          .set("id", display_id(job))
                          .set("description", job.description)
                          .set("requested_device_type", job.requested_device_type)
                          .set("submitter", job.submitter));
    }
    return out;
}

Value logs(RpcCall& c) {
    const auto job = visible_job(c, c.job_id(0));
    const bool finished = job.state == proto::JobState::kFinished;
    const auto start = std::max<std::int64_t>(0, c.integer(1, 0));
    std::optional<std::uint64_t> end;
    if (c.has(2)) end = static_cast<std::uint64_t>(std::max<std::int64_t>(0, c.integer(2, 0)));
    const auto extent = store::JobRepository(c.tx()).log_extent(job.id);
    const store::JobOutput output(c.http().app.settings().web.job_output, job.id, job.submit_time);
    auto text = output.read({extent.lines, extent.bytes}, static_cast<std::uint64_t>(start), end);
    return Array{finished, Binary{text ? std::move(*text) : std::string("[]")}};
}

Value definition(RpcCall& c) {
    const auto job = visible_job(c, c.job_id(0));
    return job.multinode_definition.empty() ? job.original_definition : job.multinode_definition;
}

// The files the job ran with; text (not Binary) so that lavacli's
// `jobs config` can write them (it fails on LAVA's bytes).
Value configuration(RpcCall& c) {
    const std::string id = c.job_id(0);
    const auto job = visible_job(c, id);
    if (job.state != proto::JobState::kRunning && job.state != proto::JobState::kCanceling &&
        job.state != proto::JobState::kFinished) {
        throw RpcFault{404, "Job '" + id + "' has not started yet"};
    }
    const store::JobOutput output(c.http().app.settings().web.job_output, job.id, job.submit_time);
    Array out;
    for (const char* name : store::kConfigurationFiles) {
        out.emplace_back(output.read_file(name));  // nil when the job ran without it
    }
    return out;
}

// scheduler.job_details: the job's stored fields, as LAVA's legacy call
// marshals its model (display names for state and health).
Value job_details(RpcCall& c) {
    const auto job = visible_job(c, c.job_id(0));
    Value v;
    v.set("id", job.id);
    v.set("sub_id", job.sub_id);
    v.set("description", job.description);
    v.set("submitter_username", job.submitter);
    v.set("requested_device_type_id", job.requested_device_type);
    v.set("actual_device_id", job.actual_device);
    v.set("health_check", job.health_check);
    v.set("is_public", job.is_public);
    v.set("target_group", job.target_group);
    v.set("submit_time", datetime_value(job.submit_time));
    v.set("start_time", datetime_value(job.start_time));
    v.set("end_time", datetime_value(job.end_time));
    v.set("state", std::string(proto::display(job.state)));
    v.set("health", std::string(proto::display(job.health)));
    v.set("priority", job.priority);
    v.set("definition", job.definition);
    v.set("original_definition", job.original_definition);
    v.set("multinode_definition", job.multinode_definition);
    v.set("failure_comment", job.failure_comment);
    v.set("absolute_url", "/scheduler/job/" + (job.sub_id.empty() ? std::to_string(job.id) : job.sub_id));
    v.set("is_pipeline", true);
    v.set("status", legacy_job_status(job));  // LAVA's legacy status display, which scripts read
    return v;
}

// job_state / job_health: {job_id, job_<what>} (+ sub_id for MultiNode).
Value job_field(RpcCall& c, bool state) {
    const auto job = visible_job(c, c.job_id(0));
    Value v;
    v.set("job_id", job.id);
    if (state) {
        v.set("job_state", std::string(proto::display(job.state)));
    } else {
        v.set("job_health", std::string(proto::display(job.health)));
    }
    if (!job.sub_id.empty()) v.set("sub_id", job.sub_id);
    return v;
}

// scheduler.all_jobs: unfinished visible jobs, newest first.
Value all_jobs(RpcCall& c) {
    store::JobQuery q;
    q.filters.emplace_back("state__in", "Submitted,Scheduling,Scheduled,Running,Canceling");
    q.ordering = "-id";
    q.limit = 1000;
    auto page = store::JobRepository(c.tx()).list(q, c.who().user);
    if (!page) throw RpcFault{400, page.error().message};
    Array out;
    for (const auto& job : page->jobs) {
        std::string status = legacy_job_status(job);
        for (auto& ch : status) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        out.push_back(Array{job.id, job.description, status, Value(job.actual_device),
                            Value(job.requested_device_type), job.sub_id});
    }
    return out;
}

}  // namespace

void add_job_methods(Registry& r) {
    r.add({"scheduler.jobs.submit", {"definition"}, 1,
           "Submits a job definition (YAML). Returns the new job's id, or for a MultiNode job the list of its "
           "sub ids (\"N.M\"). Requires authentication.",
           submit});
    r.add({"scheduler.jobs.resubmit", {"job_id"}, 1,
           "Submits the definition of an existing job again (a MultiNode job: its whole group). Returns as "
           "scheduler.jobs.submit.",
           resubmit});
    r.add({"scheduler.jobs.cancel", {"job_id"}, 1,
           "Cancels a job (a MultiNode job: its whole group). Jobs already ending are left alone. Returns true.",
           cancel});
    r.add({"scheduler.jobs.validate", {"definition", "strict"}, 1,
           "Checks a job definition against the job schema (strict: reject unknown keys). Returns {} when "
           "valid, else {path, msg} for the first problem, with its line.",
           validate});
    r.add({"scheduler.jobs.show", {"job_id"}, 1,
           "The job's details: id, description, device, device_type, health_check, health, state, submitter, "
           "submit/start/end times, tags, visibility, failure_comment.",
           show});
    r.add({"scheduler.jobs.list", {"state", "health", "start", "limit", "since", "verbose"}, 0,
           "Jobs visible to the caller, newest first: filtered by state and health names, skipping `start`, "
           "at most `limit` (up to 100), ended in the last `since` minutes. verbose adds actual_device, "
           "start_time, end_time, error_msg and error_type.",
           list});
    r.add({"scheduler.jobs.queue", {"device_types", "start", "limit"}, 0,
           "Submitted jobs visible to the caller, newest first, optionally for the given device types.", queue});
    r.add({"scheduler.jobs.logs", {"job_id", "start", "end"}, 1,
           "Log lines [start, end) of a job as YAML text. Returns [finished, base64 data].", logs});
    r.add({"scheduler.jobs.definition", {"job_id"}, 1,
           "The job definition as submitted (a MultiNode job: the whole group's).", definition});
    r.add({"scheduler.jobs.configuration", {"job_id"}, 1,
           "The files the job ran with: [job, device, dispatcher, env, env-dut] (nil where absent). "
           "Fault 404 before the job started.",
           configuration});

    // The legacy scheduler.* names scripts still call.
    r.add({"scheduler.submit_job", {"job_data"}, 1, "As scheduler.jobs.submit.", submit});
    r.add({"scheduler.resubmit_job", {"job_id"}, 1, "As scheduler.jobs.resubmit.", resubmit});
    r.add({"scheduler.cancel_job", {"job_id"}, 1, "As scheduler.jobs.cancel.", cancel});
    r.add({"scheduler.validate_yaml", {"yaml_job_data"}, 1,
           "Validates a job definition (strict). Returns nothing when valid; fault 400 naming the problem.",
           [](RpcCall& c) {
               const auto check = c.http().app.validator(common::job::Strictness::kStrict).check_yaml(c.str(0));
               if (!check.ok()) throw RpcFault{400, common::schema::join(check.issues)};
               return Value();
           }});
    r.add({"scheduler.job_details", {"job_id"}, 1, "The job's stored fields.", job_details});
    r.add({"scheduler.job_state", {"job_id"}, 1, "The job's state: {job_id, job_state} (+ sub_id).",
           [](RpcCall& c) { return job_field(c, true); }});
    r.add({"scheduler.job_health", {"job_id"}, 1, "The job's health: {job_id, job_health} (+ sub_id).",
           [](RpcCall& c) { return job_field(c, false); }});
    r.add({"scheduler.all_jobs", {}, 0,
           "Unfinished visible jobs, newest first: [id, description, state, device, device type, sub_id].",
           all_jobs});
    r.add({"scheduler.job_output", {"job_id", "offset"}, 1,
           "The job's whole log file (YAML) from a byte offset, base64. Prefer scheduler.jobs.logs.",
           [](RpcCall& c) {
               const auto job = visible_job(c, c.job_id(0));
               const auto extent = store::JobRepository(c.tx()).log_extent(job.id);
               const store::JobOutput output(c.http().app.settings().web.job_output, job.id, job.submit_time);
               auto text = output.read({extent.lines, extent.bytes}, 0, std::nullopt);
               if (!text) throw RpcFault{404, "Job output not found."};
               const auto offset = static_cast<std::size_t>(std::max<std::int64_t>(0, c.integer(1, 0)));
               return Value(Binary{offset < text->size() ? text->substr(offset) : std::string()});
           }});
    r.add({"scheduler.get_publisher_event_socket", {}, 0, "The event publisher's ZMQ address (EVENT_SOCKET).",
           [](RpcCall& c) { return Value(c.http().app.settings().web.publisher_url); }});
}

}  // namespace lava::server::web::rpc
