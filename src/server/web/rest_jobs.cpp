// REST v0.2 jobs/ (lava-protocols.md §4.2): list with filters and paging,
// detail, submit, resubmit, cancel, batch_cancel, validate, validate_testdef,
// metadata. Every lookup goes through the visibility rule: a job the caller
// may not see does not exist for them.

#include "common/base/text.hpp"
#include "common/job/testdef.hpp"
#include "common/proto/json.hpp"
#include "common/yaml/load.hpp"
#include "server/store/jobs.hpp"
#include "server/web/app.hpp"
#include "server/web/results_export.hpp"
#include "server/web/jobs_service.hpp"
#include "server/web/json.hpp"

#include <nlohmann/json.hpp>

namespace lava::server::web {
namespace {

HttpResponse not_found() { return rest_detail(404, "Not found."); }

// The submission result as LAVA's REST API words it.
HttpResponse submission_response(const Result<Submitted>& r) {
    if (!r) {
        const auto& e = r.error();
        if (e.code == submit_errc::kUnavailable) return rest_message(400, "Devices unavailable: " + e.message);
        if (e.code == submit_errc::kNotFound) return rest_message(400, "Specified device or device type not found.");
        return rest_message(400, "Problem with submitted job data: " + e.message);
    }
    nlohmann::json ids = nlohmann::json::array();
    if (r->multinode) {
        for (const auto& s : r->sub_ids) ids.push_back(s);
    } else {
        for (auto id : r->ids) ids.push_back(id);
    }
    return json_response(201, {{"message", "job(s) successfully submitted"}, {"job_ids", ids}});
}

// DRF's CharField errors for a required `definition`.
std::optional<HttpResponse> require_definition(const std::optional<std::string>& definition) {
    if (!definition) return json_response(400, {{"definition", {"This field is required."}}});
    if (definition->find_first_not_of(" \t\r\n") == std::string::npos) {
        return json_response(400, {{"definition", {"This field may not be blank."}}});
    }
    return std::nullopt;
}

bool truthy_field(const std::optional<std::string>& v) {
    return v && (*v == "true" || *v == "True" || *v == "1" || *v == "on" || *v == "yes");
}

HttpResponse list_jobs(Call& call) {
    const Page page = limit_offset(call);
    store::JobQuery q;
    for (const auto& [k, v] : call.query_params()) {
        if (k == "limit" || k == "offset" || k == "format") continue;
        if (k == "ordering") {
            q.ordering = v;
            continue;
        }
        q.filters.emplace_back(k, v);
    }
    q.limit = page.limit;
    q.offset = page.offset;
    auto result = store::JobRepository(call.tx).list(q, call.who.user);
    if (!result) {
        // "param\nmessage" -> {"param": ["message"]} (django-filter's errors)
        const auto& m = result.error().message;
        const auto nl = m.find('\n');
        return json_response(400, {{m.substr(0, nl), {m.substr(nl + 1)}}});
    }
    nlohmann::json results = nlohmann::json::array();
    for (const auto& job : result->jobs) results.push_back(job_json(job, call.who.superuser()));
    return json_response(200, paginated(call, page, result->count, std::move(results)));
}

}  // namespace

void add_job_routes(App& app) {
    app.route("GET", "/api/v0.2/jobs/", list_jobs);
    app.route("POST", "/api/v0.2/jobs/", [](Call& call) {
        const auto definition = call.field("definition");
        if (auto bad = require_definition(definition)) return *bad;
        return submission_response(submit_job(call, *definition));
    });

    app.route(
        "POST", "/api/v0.2/jobs/validate/",
        [](Call& call) {
            const auto definition = call.field("definition");
            if (!definition || definition->empty()) {
                return json_response(400, {{"definition", "Test job definition is required."}});
            }
            const auto mode = truthy_field(call.field("strict")) ? common::job::Strictness::kStrict
                                                                 : common::job::Strictness::kLenient;
            const auto check = call.app.validator(mode).check_yaml(*definition);
            if (check.ok()) return rest_message(200, "Job valid.");
            return rest_message(200, "Job invalid: " + common::schema::join(check.issues));
        },
        Access::kAnyone);
    app.route(
        "POST", "/api/v0.2/jobs/validate_testdef/",
        [](Call& call) {
            const auto definition = call.field("definition");
            if (!definition || definition->empty()) {
                return json_response(400, {{"definition", "Test definition is required."}});
            }
            const auto check = common::job::check_testdef_yaml(*definition);
            if (check.ok()) return rest_message(200, "Test definition valid.");
            // LAVA 2023.01 spells it "defnition"; clients match on it.
            return rest_message(200, "Test defnition invalid: " + common::schema::join(check.issues));
        },
        Access::kAnyone);
    app.route("POST", "/api/v0.2/jobs/batch_cancel/", [](Call& call) {
        const auto body = proto::parse_json(call.request.body);
        std::vector<std::string> requested;
        if (body.is_object() && body.contains("job_ids") && body["job_ids"].is_array()) {
            for (const auto& v : body["job_ids"]) requested.push_back(v.is_string() ? v.get<std::string>() : v.dump());
        } else {
            for (const auto& [k, v] : common::net::parse_form(call.request.body)) {
                if (k == "job_ids") requested.push_back(v);
            }
        }
        if (requested.empty()) return json_response(400, {{"job_ids", {"This field is required."}}});
        nlohmann::json canceled = nlohmann::json::array();
        nlohmann::json invalid = nlohmann::json::array();
        store::JobRepository jobs(call.tx);
        for (const auto& text : requested) {
            std::optional<store::Job> job;
            if (const auto id = parse_id(text)) job = jobs.get_visible(*id, call.who.user);
            if (!job || cancel_for(call, *job)) {
                invalid.push_back(text);
                continue;
            }
            canceled.push_back(job->id);
        }
        return json_response(200, {{"message", "Job cancel signal sent."},
                                   {"job_ids", canceled},
                                   {"invalid_job_ids", invalid}});
    });

    app.route("GET", "/api/v0.2/jobs/{id}/", [](Call& call) {
        const auto job = visible_job(call);
        if (!job) return not_found();
        return json_response(200, job_json(*job, call.who.superuser()));
    });
    app.route("GET", "/api/v0.2/jobs/{id}/metadata/", [](Call& call) {
        const auto job = visible_job(call);
        if (!job) return not_found();
        // A list of one-key mappings, as LAVA's get_metadata_dict().
        nlohmann::json items = nlohmann::json::array();
        for (const auto& [k, v] : metadata_items(job->metadata)) items.push_back({{k, v}});
        return json_response(200, {{"metadata", items}});
    });
    // LAVA lets anyone GET this; permission is the job's own rule.
    app.route("GET", "/api/v0.2/jobs/{id}/cancel/", [](Call& call) {
        const auto job = visible_job(call);
        if (!job) return not_found();
        if (auto denied = cancel_for(call, *job)) return rest_detail(403, *denied);
        return rest_message(200, "Job cancel signal sent.");
    });
    app.route("POST", "/api/v0.2/jobs/{id}/resubmit/", [](Call& call) {
        const auto job = visible_job(call);
        if (!job) return not_found();
        std::string host(call.request.header("host"));
        if (host.empty()) host = "localhost";
        const std::string url = "http://" + host + "/scheduler/job/" + (job->sub_id.empty() ? std::to_string(job->id)
                                                                                             : job->sub_id);
        return submission_response(resubmit_job(call, *job, url));
    });
}

}  // namespace lava::server::web
