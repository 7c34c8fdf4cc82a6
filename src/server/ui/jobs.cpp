// Job pages: the lists (/scheduler/alljobs and its tabs) and the job page.

#include "server/ui/ui.hpp"

#include "common/base/text.hpp"
#include "common/net/url.hpp"
#include "common/proto/states.hpp"
#include "common/yaml/load.hpp"
#include "server/store/job_output.hpp"
#include "server/store/results.hpp"
#include "server/web/jobs_service.hpp"
#include "server/web/json.hpp"
#include "server/web/results_export.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace lava::server::ui {
namespace {

constexpr long kDefaultRows = 50;
// What the configuration page shows: the files the worker got, and
// lava-run's description.
std::vector<std::string> job_files() {
    std::vector<std::string> out(store::kConfigurationFiles.begin(), store::kConfigurationFiles.end());
    out.emplace_back("description.yaml");
    return out;
}
constexpr long kMaxRows = 500;

// A list of jobs: its URL, title, and the filters it always applies.
struct JobList {
    const char* path;
    const char* tab;
    const char* title;
    std::vector<std::pair<std::string, std::string>> filters;
    bool mine = false;   // the caller's own jobs (sign-in needed)
    bool queue = false;  // in queue order, with each job's position and why it waits
};

const std::vector<JobList>& job_lists() {
    static const std::vector<JobList> lists{
        {"/scheduler/alljobs", "all", "All jobs", {}},
        {"/scheduler/activejobs", "active", "Active jobs", {{"state__in", "Scheduling,Scheduled,Running,Canceling"}}},
        {"/scheduler/queue", "queue", "Queue", {{"state", "Submitted"}}, false, true},
        {"/scheduler/myjobs", "mine", "My jobs", {}, true},
        {"/scheduler/healthcheck", "healthcheck", "Health checks", {{"health_check", "true"}}},
        {"/scheduler/joberrors", "joberrors", "Job errors", {{"health", "Incomplete"}}},
    };
    return lists;
}

// The list's own filters from the query string: (UI parameter, REST filter).
const std::vector<std::pair<std::string, std::string>>& filter_params() {
    static const std::vector<std::pair<std::string, std::string>> params{
        {"state", "state__iexact"},
        {"health", "health__iexact"},
        {"device_type", "requested_device_type"},
        {"device", "actual_device"},
        {"submitter", "submitter__username"},
        {"tag", "tags__name"},
        {"since", "submit_time__gt"},
        {"until", "submit_time__lt"},
        {"q", "description__icontains"},
    };
    return params;
}

long row_count(const Call& call) {
    const auto v = call.query("length");
    if (!v) return kDefaultRows;
    try {
        return std::clamp(std::stol(*v), 1L, kMaxRows);
    } catch (const std::exception&) {
        return kDefaultRows;
    }
}

std::optional<std::int64_t> key_param(const Call& call, const std::string& name) {
    const auto v = call.query(name);
    return v ? parse_id(*v) : std::nullopt;
}

List names_of(std::span<const std::string_view> names) {
    List out;
    for (const auto n : names) out.emplace_back(std::string(n));
    return out;
}

HttpResponse job_list(const Ui& ui, Call& call, const JobList& list) {
    if (list.mine && !call.who.authenticated()) return sign_in_first(call);
    store::JobQuery q;
    q.count = list.queue;  // the queue's length is cheap (an index on state) and worth showing
    q.filters = list.filters;
    if (list.mine) q.filters.emplace_back("submitter", std::to_string(call.who.user->id));
    Dict filters;
    for (const auto& [param, rest] : filter_params()) {
        const auto v = call.query(param);
        filters.emplace_back(Value(param), Value(v.value_or("")));
        if (v && !v->empty()) q.filters.emplace_back(rest, *v);
    }
    const long rows = row_count(call);
    const auto before = key_param(call, "before");
    const auto after = key_param(call, "after");
    if (list.queue) {
        q.ordering = "-priority,submit_time";  // lava-scheduler's order
        q.limit = rows;
        q.offset = 0;
    } else {
        q.limit = rows + 1;  // one more: is there another page?
        if (after) {
            q.filters.emplace_back("id__gt", std::to_string(*after));
            q.ordering = "id";
        } else {
            if (before) q.filters.emplace_back("id__lt", std::to_string(*before));
            q.ordering = "-id";
        }
    }
    Obj data;
    data.set("title", Value(list.title)).set("tab", Value(list.tab)).set("list_path", Value(list.path));
    data.set("filters", Value(std::move(filters)));
    data.set("states", Value(names_of(proto::kJobStateNames)));
    data.set("healths", Value(names_of(proto::kJobHealthNames)));
    data.set("length", Value(rows));
    auto page = store::JobRepository(call.tx).list(q, call.who.user);
    if (!page) {
        data.set("error", Value(page.error().message)).set("jobs", Value(List{})).set("newer", Value()).set("older", Value());
        return ui.page(call, "jobs.html", data.take(), 400);
    }
    auto& jobs = page->jobs;
    bool more = !list.queue && static_cast<long>(jobs.size()) > rows;
    if (more) jobs.resize(static_cast<std::size_t>(rows));
    if (after) std::reverse(jobs.begin(), jobs.end());
    List out;
    long position = 0;
    for (const auto& j : jobs) {
        Dict row = job_row(j).as_dict();
        if (list.queue) row.emplace_back(Value("position"), Value(++position));
        const bool cancellable = web::cancellable(j.state) && web::can_cancel(j, call.who);
        row.emplace_back(Value("can_cancel"), Value(cancellable));
        out.emplace_back(std::move(row));
    }
    Value newer, older;
    if (!list.queue && !jobs.empty()) {
        // Newest first: "newer" pages towards higher ids.
        if (after ? more : before.has_value()) newer = Value(static_cast<long long>(jobs.front().id));
        if (after ? true : more) older = Value(static_cast<long long>(jobs.back().id));
    }
    data.set("jobs", Value(std::move(out))).set("newer", newer).set("older", older);
    // The pager's links keep every parameter but the page key.
    common::net::FormPairs keep;
    for (const auto& [k, v] : call.query_params()) {
        if (k != "before" && k != "after" && !v.empty()) keep.emplace_back(k, v);
    }
    const std::string encoded = common::net::encode_form(keep);
    data.set("keep_query", Value(encoded.empty() ? encoded : encoded + "&"));
    data.set("count", list.queue ? Value(page->count) : Value());
    return ui.page(call, "jobs.html", data.take());
}


// The error a finished job reports (the lava/job case's metadata), if any.
Value job_error(store::ResultRepository& results, std::int64_t job_id, const std::optional<std::string>& comment) {
    auto md_text = results.case_metadata(job_id, "lava", "job");
    Obj error;
    bool any = false;
    if (md_text) {
        auto md = common::yaml::load(*md_text);
        if (md && md->is_dict()) {
            for (const char* key : {"error_type", "error_msg"}) {
                if (const Value* v = md->find(key); v && v->is_str()) {
                    error.set(key, *v);
                    any = true;
                }
            }
        }
    }
    if (comment && !comment->empty()) {
        error.set("comment", Value(*comment));
        any = true;
    }
    return any ? Value(std::move(error)) : Value();
}

HttpResponse job_page(const Ui& ui, Call& call) {
    const auto job = visible_job(call);
    if (!job) return ui.not_found(call, "job " + call.params.at("id"));
    store::ResultRepository results(call.tx);
    const auto extent = store::JobRepository(call.tx).log_extent(job->id);
    Obj data;
    data.set("title", Value("Job " + (job->sub_id.empty() ? std::to_string(job->id) : job->sub_id)));
    data.set("job", job_row(*job));
    data.set("log", Obj()
                        .set("lines", Value(static_cast<long long>(extent.lines)))
                        .set("bytes", Value(static_cast<long long>(extent.bytes))));
    data.set("error", job_error(results, job->id, job->failure_comment));
    // Results inline: the first cases, with where they are in the log.
    constexpr long kCases = 500;
    List cases;
    for (const auto& c : results.cases(job->id, std::nullopt, kCases, 0)) {
        cases.push_back(Obj()
                            .set("id", Value(static_cast<long long>(c.id)))
                            .set("suite", Value(c.suite))
                            .set("name", Value(c.name))
                            .set("result", Value(proto::display(c.result)))
                            .set("measurement", c.measurement ? Value(trimmed_decimal(*c.measurement)) : Value())
                            .set("units", Value(c.units))
                            .set("line", c.start_log_line ? Value(static_cast<long long>(*c.start_log_line)) : Value()));
    }
    data.set("cases", Value(std::move(cases)));
    data.set("case_count", Value(results.count_cases(job->id)));
    List group;
    if (job->target_group) {
        for (const auto& g : store::JobRepository(call.tx).group(*job->target_group)) {
            // Each sub-job's role, from its definition (protocols.lava-multinode.role).
            Dict row = job_row(g).as_dict();
            Value role;
            if (auto doc = common::yaml::load(g.definition); doc && doc->is_dict()) {
                const Value* p = doc->find("protocols");
                const Value* m = p && p->is_dict() ? p->find("lava-multinode") : nullptr;
                const Value* r = m && m->is_dict() ? m->find("role") : nullptr;
                if (r && r->is_str()) role = *r;
            }
            row.emplace_back(Value("role"), role);
            group.emplace_back(std::move(row));
        }
    }
    data.set("group", Value(std::move(group)));
    data.set("can_cancel", Value(web::cancellable(job->state) && web::can_cancel(*job, call.who)));
    data.set("can_resubmit", Value(call.who.authenticated()));
    return ui.page(call, "job.html", data.take());
}

// The lists' bulk actions: cancel or resubmit the checked jobs (`job`
// fields), each as the job page's button would; a job the caller may not
// change is reported, the others are done.
HttpResponse bulk(const Ui& ui, Call& call, bool resubmit) {
    std::vector<std::string> refused;
    long done = 0;
    std::int64_t last_new = 0;
    for (const auto& [k, v] : call.form()) {
        if (k != "job") continue;
        const auto id = parse_id(v);
        const auto job = id ? store::JobRepository(call.tx).get_visible(*id, call.who.user) : std::nullopt;
        if (!job) {
            refused.push_back(v + ": not found");
            continue;
        }
        if (resubmit) {
            auto r = web::resubmit_job(call, *job, web::absolute_url(call, "/scheduler/job/" + v));
            if (!r) {
                refused.push_back(v + ": " + r.error().message);
                continue;
            }
            last_new = r->ids.front();
        } else if (auto why = web::cancel_for(call, *job)) {
            refused.push_back(v + ": " + *why);
            continue;
        }
        ++done;
    }
    if (refused.empty()) {
        if (resubmit && done == 1) return web::redirect("/scheduler/job/" + std::to_string(last_new));
        return web::redirect(web::local_target(call.field("next"), "/scheduler/alljobs"));
    }
    // What could be done was; say what could not (the rest is committed).
    call.keep_changes = true;
    std::string message = std::to_string(done) + (resubmit ? " resubmitted" : " canceled") + "; not: ";
    for (std::size_t i = 0; i < refused.size(); ++i) message += (i ? ", " : "") + refused[i];
    return ui.page(call, "message.html",
                   Obj().set("title", Value(resubmit ? "Resubmit" : "Cancel")).set("message", Value(message)).take(),
                   403);
}

}  // namespace

void add_job_pages(web::App& app, std::shared_ptr<const Ui> ui) {
    app.route("POST", "/scheduler/jobs/cancel", [ui](Call& call) { return bulk(*ui, call, false); },
              web::Access::kUser);
    app.route("POST", "/scheduler/jobs/resubmit", [ui](Call& call) { return bulk(*ui, call, true); },
              web::Access::kUser);
    for (const auto& list : job_lists()) {
        app.route("GET", list.path, [ui, &list](Call& call) { return job_list(*ui, call, list); });
    }
    app.route("GET", "/scheduler/job/{id}", [ui](Call& call) { return job_page(*ui, call); });
    // What the job ran with (LAVA's "configuration" and "description"): the
    // files the worker got and lava-run's description, each shown and
    // downloadable.
    app.route("GET", "/scheduler/job/{id}/configuration", [ui](Call& call) {
        const auto job = visible_job(call);
        if (!job) return ui->not_found(call, "job " + call.params.at("id"));
        const store::JobOutput output(call.app.settings().web.job_output, job->id, job->submit_time);
        List files;
        for (const auto& name : job_files()) {
            if (auto text = output.read_file(name)) {
                files.push_back(Obj().set("name", Value(name)).set("text", Value(*text)));
            }
        }
        return ui->page(call, "configuration.html",
                        Obj().set("title", Value("Job " + std::to_string(job->id) + " configuration"))
                            .set("job", job_row(*job))
                            .set("files", Value(std::move(files)))
                            .take());
    });
    app.route("GET", "/scheduler/job/{id}/configuration/{file}", [ui](Call& call) {
        const auto job = visible_job(call);
        const auto& file = call.params.at("file");
        const auto files = job_files();
        const bool known = std::find(files.begin(), files.end(), file) != files.end();
        if (!job || !known) return ui->not_found(call, "file " + file);
        const store::JobOutput output(call.app.settings().web.job_output, job->id, job->submit_time);
        auto text = output.read_file(file);
        if (!text) return ui->not_found(call, "file " + file);
        HttpResponse r = web::attachment(std::move(*text), "application/yaml",
                                         "job_" + std::to_string(job->id) + "_" + file);
        secure_headers(r, call.who.authenticated());
        return r;
    });
    // Cancel from the page (a form with the CSRF token); back to the page.
    app.route("POST", "/scheduler/job/{id}/cancel", [ui](Call& call) {
        const auto job = visible_job(call);
        if (!job) return ui->not_found(call, "job " + call.params.at("id"));
        if (auto refused = web::cancel_for(call, *job)) {
            return ui->page(call, "message.html",
                            Obj().set("title", Value("Cannot cancel")).set("message", Value(*refused)).take(), 403);
        }
        return web::redirect("/scheduler/job/" + std::to_string(job->id));
    }, web::Access::kUser);
}

}  // namespace lava::server::ui
