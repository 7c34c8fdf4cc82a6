// Results pages: /results/ (the newest jobs' suites, counted), /results/<job>
// (its suites, and every case against the previous run of the same job name
// on the same device type: regressions and fixes marked),
// /results/<job>/<suite> and /results/<job>/<suite>/<case>.

#include "server/ui/ui.hpp"

#include "common/proto/states.hpp"
#include "server/store/results.hpp"
#include "server/web/results_export.hpp"

#include <map>
#include <set>

namespace lava::server::ui {
namespace {

constexpr long kJobsPerPage = 50;
constexpr long kCasesShown = 5000;

Value summary_row(const store::SuiteSummary& s) {
    return Obj()
        .set("job", Value(static_cast<long long>(s.job_id)))
        .set("suite_id", Value(static_cast<long long>(s.suite_id)))
        .set("name", Value(s.name))
        .set("pass", Value(s.pass))
        .set("fail", Value(s.fail))
        .set("skip", Value(s.skip))
        .set("unknown", Value(s.unknown))
        .set("total", Value(s.pass + s.fail + s.skip + s.unknown));
}

// The previous finished run of the same job name on the same device type
// that the caller may see.
std::optional<store::Job> previous_run(Call& call, const store::Job& job) {
    if (!job.requested_device_type) return std::nullopt;
    store::JobQuery q;
    q.filters = {{"description", job.description},
                 {"requested_device_type", *job.requested_device_type},
                 {"id__lt", std::to_string(job.id)},
                 {"state", "Finished"}};
    q.ordering = "-id";
    q.limit = 1;
    q.count = false;
    auto page = store::JobRepository(call.tx).list(q, call.who.user);
    if (!page || page->jobs.empty()) return std::nullopt;
    return page->jobs.front();
}

std::string case_key(const store::TestCase& c) { return c.suite + "\n" + c.set.value_or("") + "\n" + c.name; }


// The cases of a job (or one suite), each with the previous run's result
// and what changed; and the counts of changes.
struct Compared {
    List cases;
    long regressions = 0;
    long fixes = 0;
    long added = 0;
    bool truncated = false;
};
Compared compare(Call& call, const store::Job& job, std::optional<std::int64_t> suite_id,
                 const std::optional<store::Job>& previous, const std::optional<std::string>& suite_name) {
    store::ResultRepository results(call.tx);
    std::map<std::string, proto::TestResult> before;
    if (previous) {
        for (const auto& c : results.cases(previous->id, std::nullopt, kCasesShown, 0)) {
            if (!suite_name || c.suite == *suite_name) before.emplace(case_key(c), c.result);
        }
    }
    Compared out;
    const auto cases = results.cases(job.id, suite_id, kCasesShown + 1, 0);
    out.truncated = static_cast<long>(cases.size()) > kCasesShown;
    for (std::size_t i = 0; i < cases.size() && static_cast<long>(i) < kCasesShown; ++i) {
        const auto& c = cases[i];
        std::string change;
        Value was;
        if (previous) {
            const auto it = before.find(case_key(c));
            if (it == before.end()) {
                change = "new";
                ++out.added;
            } else {
                was = Value(std::string(proto::display(it->second)));
                if (it->second == proto::TestResult::kPass && c.result == proto::TestResult::kFail) {
                    change = "regression";
                    ++out.regressions;
                } else if (it->second == proto::TestResult::kFail && c.result == proto::TestResult::kPass) {
                    change = "fixed";
                    ++out.fixes;
                } else if (it->second != c.result) {
                    change = "changed";
                }
            }
        }
        out.cases.push_back(Obj()
                                .set("id", Value(static_cast<long long>(c.id)))
                                .set("suite", Value(c.suite))
                                .set("set", opt(c.set))
                                .set("name", Value(c.name))
                                .set("result", Value(proto::display(c.result)))
                                .set("measurement", c.measurement ? Value(trimmed_decimal(*c.measurement)) : Value())
                                .set("units", Value(c.units))
                                .set("logged", Value(short_time(c.logged)))
                                .set("previous", was)
                                .set("change", Value(change)));
    }
    return out;
}

void set_compared(Obj& data, const Compared& cmp, const std::optional<store::Job>& previous) {
    data.set("previous", previous ? job_row(*previous) : Value());
    data.set("regressions", Value(cmp.regressions)).set("fixes", Value(cmp.fixes)).set("added", Value(cmp.added));
    data.set("truncated", Value(cmp.truncated));
}

HttpResponse overview(const Ui& ui, Call& call) {
    std::optional<std::int64_t> before;
    if (const auto b = call.query("before")) before = parse_id(*b);
    const auto suites = store::ResultRepository(call.tx).recent_suites(call.who.user, before, kJobsPerPage);
    // The jobs shown, in one query.
    std::set<std::int64_t> ids;
    for (const auto& s : suites) ids.insert(s.job_id);
    std::map<std::int64_t, Value> jobs;
    if (!ids.empty()) {
        std::string in;
        for (const auto id : ids) in += (in.empty() ? "" : ",") + std::to_string(id);
        store::JobQuery q;
        q.filters = {{"id__in", in}};
        q.limit = static_cast<long>(ids.size());
        q.count = false;
        if (auto page = store::JobRepository(call.tx).list(q, call.who.user)) {
            for (const auto& j : page->jobs) jobs.emplace(j.id, job_row(j));
        }
    }
    List rows;
    for (const auto& s : suites) {
        Dict row = summary_row(s).as_dict();
        const auto it = jobs.find(s.job_id);
        row.emplace_back(Value("job_row"), it == jobs.end() ? Value() : it->second);
        rows.emplace_back(std::move(row));
    }
    Value older;
    if (static_cast<long>(ids.size()) == kJobsPerPage) older = Value(static_cast<long long>(*ids.begin()));
    return ui.page(call, "results.html",
                   Obj().set("title", Value("Results")).set("suites", Value(std::move(rows))).set("older", older).take());
}

HttpResponse job_results(const Ui& ui, Call& call) {
    const auto job = visible_job(call, "job");
    if (!job) return ui.not_found(call, "job " + call.params.at("job"));
    const auto previous = previous_run(call, *job);
    const auto cmp = compare(call, *job, std::nullopt, previous, std::nullopt);
    List suites;
    for (const auto& s : store::ResultRepository(call.tx).suite_summaries(job->id)) suites.push_back(summary_row(s));
    Obj data;
    data.set("title", Value("Results of job " + std::to_string(job->id)));
    data.set("job", job_row(*job));
    data.set("suites", Value(std::move(suites)));
    data.set("cases", cmp.cases);
    data.set("suite", Value());
    set_compared(data, cmp, previous);
    return ui.page(call, "job_results.html", data.take());
}

std::optional<store::SuiteSummary> suite_named(Call& call, const store::Job& job, const std::string& name) {
    for (const auto& s : store::ResultRepository(call.tx).suite_summaries(job.id)) {
        if (s.name == name) return s;
    }
    return std::nullopt;
}

HttpResponse suite_results(const Ui& ui, Call& call) {
    const auto job = visible_job(call, "job");
    if (!job) return ui.not_found(call, "job " + call.params.at("job"));
    const auto& name = call.params.at("suite");
    const auto suite = suite_named(call, *job, name);
    if (!suite) return ui.not_found(call, "suite " + name + " in job " + std::to_string(job->id));
    const auto previous = previous_run(call, *job);
    const auto cmp = compare(call, *job, suite->suite_id, previous, name);
    Obj data;
    data.set("title", Value("Suite " + name + " of job " + std::to_string(job->id)));
    data.set("job", job_row(*job));
    data.set("suites", Value(List{summary_row(*suite)}));
    data.set("cases", cmp.cases);
    data.set("suite", summary_row(*suite));
    set_compared(data, cmp, previous);
    return ui.page(call, "job_results.html", data.take());
}

HttpResponse case_result(const Ui& ui, Call& call) {
    const auto job = visible_job(call, "job");
    if (!job) return ui.not_found(call, "job " + call.params.at("job"));
    const auto& suite_name = call.params.at("suite");
    const auto& case_name = call.params.at("case");
    const auto suite = suite_named(call, *job, suite_name);
    if (!suite) return ui.not_found(call, "suite " + suite_name);
    store::ResultRepository results(call.tx);
    std::optional<store::TestCase> found;
    for (const auto& c : results.cases(job->id, suite->suite_id, kCasesShown, 0)) {
        if (c.name == case_name || std::to_string(c.id) == case_name) {
            found = c;
            break;
        }
    }
    if (!found) return ui.not_found(call, "test case " + case_name);
    const Value exported = web::export_case(*found, job->id);
    return ui.page(call, "case.html",
                   Obj().set("title", Value("Test case " + found->name))
                       .set("job", job_row(*job))
                       .set("suite", summary_row(*suite))
                       .set("case", Obj()
                                        .set("id", Value(static_cast<long long>(found->id)))
                                        .set("name", Value(found->name))
                                        .set("set", opt(found->set))
                                        .set("result", Value(proto::display(found->result)))
                                        .set("measurement", found->measurement ? Value(trimmed_decimal(*found->measurement)) : Value())
                                        .set("units", Value(found->units))
                                        .set("logged", Value(short_time(found->logged)))
                                        .set("start_log_line", found->start_log_line ? Value(static_cast<long long>(*found->start_log_line)) : Value()))
                       .set("metadata", web::case_metadata(*found))
                       .set("export", exported)
                       .take());
}

}  // namespace

void add_result_pages(web::App& app, std::shared_ptr<const Ui> ui) {
    app.route("GET", "/results/", [ui](Call& call) { return overview(*ui, call); });
    app.route("GET", "/results/{job}", [ui](Call& call) { return job_results(*ui, call); });
    app.route("GET", "/results/{job}/{suite}", [ui](Call& call) { return suite_results(*ui, call); });
    app.route("GET", "/results/{job}/{suite}/{case}", [ui](Call& call) { return case_result(*ui, call); });
}

}  // namespace lava::server::ui
