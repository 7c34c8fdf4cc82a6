// REST v0.2 job logs and results (lava-protocols.md §4.2): jobs/<id>/logs/
// by line range, suites/ and tests/ (page-numbered), one suite and its
// tests. Visibility is the job's.

#include "server/store/job_output.hpp"
#include "server/store/jobs.hpp"
#include "server/store/results.hpp"
#include "server/web/app.hpp"
#include "server/web/json.hpp"

#include <nlohmann/json.hpp>

namespace lava::server::web {
namespace {

constexpr long kPageSize = 50;

std::optional<std::int64_t> number(const std::string& text) {
    if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) {
        return std::nullopt;
    }
    return std::stoll(text);
}

std::optional<store::Job> visible_job(Call& call) {
    const auto id = number(call.params.at("id"));
    if (!id) return std::nullopt;
    return store::JobRepository(call.tx).get_visible(*id, call.who.user);
}

HttpResponse not_found() { return rest_detail(404, "Not found."); }

// LAVA's safe_str2int: the integer, or the default when it is not one.
std::optional<std::uint64_t> query_int(const Call& call, const std::string& name) {
    const auto v = call.query(name);
    if (!v) return std::nullopt;
    try {
        std::size_t used = 0;
        const long long n = std::stoll(*v, &used);
        if (used != v->size()) return std::nullopt;
        return static_cast<std::uint64_t>(std::max(0LL, n));
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

nlohmann::json opt(const std::optional<std::int64_t>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }
nlohmann::json opt(const std::optional<std::string>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

nlohmann::json suite_json(const store::TestSuite& s) { return {{"id", s.id}, {"job", s.job_id}, {"name", s.name}}; }

nlohmann::json case_json(const store::TestCase& c) {
    return {{"id", c.id},
            {"name", c.name},
            {"units", c.units},
            {"result", std::string(proto::display(c.result))},
            {"measurement", opt(c.measurement)},
            {"metadata", opt(c.metadata)},
            {"suite", c.suite_id},
            {"start_log_line", opt(c.start_log_line)},
            {"end_log_line", opt(c.end_log_line)},
            {"test_set", opt(c.set_id)},
            {"logged", drf_datetime(c.logged)}};
}

HttpResponse cases_page(Call& call, std::int64_t job_id, std::optional<std::int64_t> suite_id) {
    store::ResultRepository results(call.tx);
    const long count = results.count_cases(job_id, suite_id);
    const auto page = page_number(call, count, kPageSize);
    if (!page) return rest_detail(404, "Invalid page.");
    nlohmann::json out = nlohmann::json::array();
    for (const auto& c : results.cases(job_id, suite_id, kPageSize, (*page - 1) * kPageSize)) out.push_back(case_json(c));
    return json_response(200, paginated_pages(call, *page, kPageSize, count, std::move(out)));
}

}  // namespace

void add_result_routes(App& app) {
    app.route("GET", "/api/v0.2/jobs/{id}/logs/", [](Call& call) {
        const auto job = visible_job(call);
        if (!job) return not_found();
        const auto extent = store::JobRepository(call.tx).log_extent(job->id);
        const store::JobOutput output(call.app.settings().web.job_output, job->id, job->submit_time);
        const auto range =
            output.range({extent.lines, extent.bytes}, query_int(call, "start").value_or(0), query_int(call, "end"));
        if (!range || range->length == 0) return not_found();
        HttpResponse r;
        r.content_type = "application/yaml";
        r.headers.emplace_back("Content-Disposition", "attachment; filename=job_" + std::to_string(job->id) + ".yaml");
        r.file_path = range->file.string();
        r.file_offset = range->offset;
        r.file_length = range->length;
        return r;
    });
    app.route("GET", "/api/v0.2/jobs/{id}/suites/", [](Call& call) {
        const auto job = visible_job(call);
        if (!job) return not_found();
        store::ResultRepository results(call.tx);
        const long count = results.count_suites(job->id);
        const auto page = page_number(call, count, kPageSize);
        if (!page) return rest_detail(404, "Invalid page.");
        nlohmann::json out = nlohmann::json::array();
        for (const auto& s : results.suites(job->id, kPageSize, (*page - 1) * kPageSize)) out.push_back(suite_json(s));
        return json_response(200, paginated_pages(call, *page, kPageSize, count, std::move(out)));
    });
    app.route("GET", "/api/v0.2/jobs/{id}/suites/{suite}/", [](Call& call) {
        const auto job = visible_job(call);
        const auto sid = number(call.params.at("suite"));
        if (!job || !sid) return not_found();
        const auto suite = store::ResultRepository(call.tx).suite(job->id, *sid);
        if (!suite) return not_found();
        return json_response(200, suite_json(*suite));
    });
    app.route("GET", "/api/v0.2/jobs/{id}/suites/{suite}/tests/", [](Call& call) {
        const auto job = visible_job(call);
        const auto sid = number(call.params.at("suite"));
        if (!job || !sid || !store::ResultRepository(call.tx).suite(job->id, *sid)) return not_found();
        return cases_page(call, job->id, *sid);
    });
    app.route("GET", "/api/v0.2/jobs/{id}/tests/", [](Call& call) {
        const auto job = visible_job(call);
        if (!job) return not_found();
        return cases_page(call, job->id, std::nullopt);
    });
}

}  // namespace lava::server::web
