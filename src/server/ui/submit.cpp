// Submitting jobs from the browser: /scheduler/jobsubmit (the editor),
// /scheduler/job/<id>/resubmit (the editor with that job's definition),
// /scheduler/jobsubmit/validate (what the editor asks while the user types:
// the same validator as the API, each issue with its field path and line),
// and /scheduler/job/<id>/definition (+ /plain).

#include "server/ui/ui.hpp"

#include "common/base/text.hpp"
#include "server/web/jobs_service.hpp"

#include <nlohmann/json.hpp>

namespace lava::server::ui {
namespace {

HttpResponse editor(const Ui& ui, Call& call, const std::string& definition, const std::string& error,
                    const std::optional<std::int64_t>& original, int status = 200) {
    return ui.page(call, "submit.html",
                   Obj()
                       .set("title", Value(original ? "Resubmit job " + std::to_string(*original) : "Submit a job"))
                       .set("definition", Value(definition))
                       .set("error", Value(error))
                       .set("original", original ? Value(static_cast<long long>(*original)) : Value())
                       .take(),
                   status);
}

// The definition a resubmission starts from: a MultiNode job's whole group.
std::string definition_of(const store::Job& job) {
    return job.multinode_definition.empty() ? job.definition : job.multinode_definition;
}

}  // namespace

void add_submit_pages(web::App& app, std::shared_ptr<const Ui> ui) {
    app.route("GET", "/scheduler/jobsubmit", [ui](Call& call) {
        if (!call.who.authenticated()) return sign_in_first(call);
        return editor(*ui, call, "", "", std::nullopt);
    });
    // The form's POST (with the session's CSRF token): the job page, or the
    // editor again with the definition and LAVA's error.
    app.route("POST", "/scheduler/jobsubmit", [ui](Call& call) {
        if (!call.who.authenticated()) {
            return ui->page(call, "message.html",
                            Obj().set("title", Value("Not signed in"))
                                .set("message", Value("Sign in (and submit the form again) to submit jobs."))
                                .take(),
                            403);
        }
        const std::string definition = call.field("definition").value_or("");
        std::optional<std::int64_t> original;
        if (const auto o = call.field("original"); o && !o->empty()) original = parse_id(*o);
        if (definition.empty()) return editor(*ui, call, definition, "The definition is empty.", original, 400);
        std::optional<std::string> original_url;
        if (original) original_url = web::absolute_url(call, "/scheduler/job/" + std::to_string(*original));
        const auto r = web::submit_job(call, definition, original_url);
        if (!r) {
            std::string message = r.error().message;
            if (r.error().code == web::submit_errc::kProblem) message = "Problem with submitted job data: " + message;
            if (r.error().code == web::submit_errc::kUnavailable) message = "Devices unavailable: " + message;
            if (r.error().code == web::submit_errc::kNotFound) message = "Specified device or device type not found.";
            return editor(*ui, call, definition, message, original, 400);
        }
        return web::redirect("/scheduler/job/" + std::to_string(r->ids.front()));
    });
    app.route("GET", "/scheduler/job/{id}/resubmit", [ui](Call& call) {
        if (!call.who.authenticated()) return sign_in_first(call);
        const auto job = visible_job(call);
        if (!job) return ui->not_found(call, "job " + call.params.at("id"));
        return editor(*ui, call, definition_of(*job), "", job->id);
    });
    // The editor's check while typing: {"valid", "issues": [{path, message,
    // line, column}]} (no sign-in needed, as REST's jobs/validate/).
    app.route("POST", "/scheduler/jobsubmit/validate", [](Call& call) {
        const std::string definition = call.field("definition").value_or("");
        nlohmann::json issues = nlohmann::json::array();
        if (definition.empty()) {
            issues.push_back({{"path", ""}, {"message", "the definition is empty"}, {"line", 1}, {"column", 1}});
        } else {
            for (const auto& issue : call.app.validator().check_yaml(definition).issues) {
                issues.push_back({{"path", issue.path},
                                  {"message", issue.message},
                                  {"line", issue.mark.line},
                                  {"column", issue.mark.column}});
            }
        }
        HttpResponse r = web::json_response(200, {{"valid", issues.empty()}, {"issues", std::move(issues)}});
        secure_headers(r, call.who.authenticated());
        return r;
    }, web::Access::kAnyone);
    app.route("GET", "/scheduler/job/{id}/definition", [ui](Call& call) {
        const auto job = visible_job(call);
        if (!job) return ui->not_found(call, "job " + call.params.at("id"));
        return ui->page(call, "definition.html",
                        Obj().set("title", Value("Job " + std::to_string(job->id) + " definition"))
                            .set("job", job_row(*job))
                            .set("definition", Value(definition_of(*job)))
                            .set("can_resubmit", Value(call.who.authenticated()))
                            .take());
    });
    app.route("GET", "/scheduler/job/{id}/definition/plain", [ui](Call& call) {
        const auto job = visible_job(call);
        if (!job) return ui->not_found(call, "job " + call.params.at("id"));
        HttpResponse r = web::attachment(definition_of(*job), "text/plain; charset=utf-8",
                                         "job_" + std::to_string(job->id) + ".yaml");
        secure_headers(r, call.who.authenticated());
        return r;
    });
}

}  // namespace lava::server::ui
