// REST v0.2 job logs and results (lava-protocols.md §4.2): jobs/<id>/logs/
// by line range, suites/ and tests/ (page-numbered), one suite and its
// tests. Visibility is the job's.

#include "server/store/job_output.hpp"
#include "server/store/jobs.hpp"
#include "server/store/results.hpp"
#include "server/web/app.hpp"
#include "server/web/jobs_service.hpp"
#include "server/web/json.hpp"
#include "server/web/results_export.hpp"


#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>

namespace lava::server::web {
namespace {

constexpr long kPageSize = 50;

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

// LAVA's v0.2 serializers: a suite and a case carry the absolute URL of
// their detail view; a case's units are called "unit".
std::string suite_path(std::int64_t job_id, std::int64_t suite_id) {
    return "/api/v0.2/jobs/" + std::to_string(job_id) + "/suites/" + std::to_string(suite_id) + "/";
}

nlohmann::json suite_json(const Call& call, const store::TestSuite& s) {
    return {{"id", s.id},
            {"job", s.job_id},
            {"name", s.name},
            {"resource_uri", absolute_url(call, suite_path(s.job_id, s.id))}};
}

nlohmann::json case_json(const Call& call, std::int64_t job_id, const store::TestCase& c) {
    return {{"id", c.id},
            {"resource_uri", absolute_url(call, suite_path(job_id, c.suite_id) + "tests/" + std::to_string(c.id) + "/")},
            {"name", c.name},
            {"unit", c.units},
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
    for (const auto& c : results.cases(job_id, suite_id, kPageSize, (*page - 1) * kPageSize)) {
        out.push_back(case_json(call, job_id, c));
    }
    return json_response(200, paginated_pages(call, *page, kPageSize, count, std::move(out)));
}

// ---------------------------------------------------------------- exports

std::string xml_escape(std::string_view s, bool attribute) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\n': out += attribute ? "&#10;" : "\n"; break;
            default: out += c;
        }
    }
    return out;
}

// "2026-11-30T10:00:00.123456" -> Python's isoformat() of an aware UTC datetime.
std::string iso_utc(const std::string& t) { return events::event_datetime(t); }

// Python's str(float) for what junit_xml sums.
std::string py_float(double d) { return common::data::Value(d).repr(); }

struct Export {
    store::Job job;
    std::vector<store::TestCase> cases;  // by id
    store::LogExtentRow extent;
};

Export load_export(Call& call, const store::Job& job) {
    Export e{job, {}, store::JobRepository(call.tx).log_extent(job.id)};
    store::ResultRepository results(call.tx);
    const long count = results.count_cases(job.id);
    e.cases = results.cases(job.id, std::nullopt, std::max(count, 1L), 0);
    return e;
}

std::string case_log(Call& call, const Export& e, const store::TestCase& c) {
    if (!c.start_log_line || !c.end_log_line) return {};
    const store::JobOutput output(call.app.settings().web.job_output, e.job.id, e.job.submit_time);
    return output.read({e.extent.lines, e.extent.bytes}, static_cast<std::uint64_t>(*c.start_log_line),
                       static_cast<std::uint64_t>(*c.end_log_line))
        .value_or("");
}

HttpResponse junit(Call& call, const store::Job& job) {
    const Export e = load_export(call, job);
    std::string prefix = call.query("classname_prefix").value_or("");
    if (!prefix.empty()) prefix += "_";
    struct Suite {
        std::string name;
        std::string body;
        int tests = 0, failures = 0, skipped = 0;
        double time = 0;
    };
    std::vector<Suite> suites;
    for (const auto& c : e.cases) {
        if (suites.empty() || suites.back().name != c.suite) suites.push_back(Suite{c.suite, {}});
        Suite& s = suites.back();
        ++s.tests;
        const auto md = case_metadata(c);
        const auto* duration = md.is_dict() ? md.find("duration") : nullptr;
        std::string attrs = "name=\"" + xml_escape(c.name, true) + "\"";
        if (duration && !duration->is_none()) {
            char buf[64];
            const double d = duration->is_number() ? duration->as_number() : std::strtod(duration->str().c_str(), nullptr);
            std::snprintf(buf, sizeof buf, "%f", d);
            attrs += " time=\"" + std::string(buf) + "\"";
            s.time += d;
        }
        attrs += " timestamp=\"" + iso_utc(c.logged) + "\" classname=\"" + xml_escape(prefix + c.suite, true) + "\"";
        if (c.result == proto::TestResult::kFail) {
            ++s.failures;
            const std::string logs = case_log(call, e, c);
            s.body += "\t\t<testcase " + attrs + ">\n\t\t\t<failure type=\"failure\" message=\"failed\"" +
                      (logs.empty() ? "/>\n" : ">" + xml_escape(logs, false) + "</failure>\n") + "\t\t</testcase>\n";
        } else if (c.result == proto::TestResult::kSkip) {
            ++s.skipped;
            s.body += "\t\t<testcase " + attrs + ">\n\t\t\t<skipped type=\"skipped\" message=\"skipped\"/>\n\t\t</testcase>\n";
        } else {
            s.body += "\t\t<testcase " + attrs + "/>\n";
        }
    }
    int tests = 0, failures = 0;
    double time = 0;
    std::string body;
    const std::string end = e.job.end_time ? iso_utc(*e.job.end_time) : "";
    for (const auto& s : suites) {
        tests += s.tests;
        failures += s.failures;
        time += s.time;
        body += "\t<testsuite disabled=\"0\" errors=\"0\" failures=\"" + std::to_string(s.failures) + "\" name=\"" +
                xml_escape(s.name, true) + "\" skipped=\"" + std::to_string(s.skipped) + "\" tests=\"" +
                std::to_string(s.tests) + "\" time=\"" + (s.time == 0 ? "0" : py_float(s.time)) + "\" timestamp=\"" + end +
                "\">\n" + s.body + "\t</testsuite>\n";
    }
    const std::string xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<testsuites disabled=\"0\" errors=\"0\" failures=\"" +
                            std::to_string(failures) + "\" tests=\"" + std::to_string(tests) + "\" time=\"" +
                            (time == 0 ? "0" : py_float(time)) + "\">\n" + body + "</testsuites>\n";
    return attachment(xml, "application/xml", "job_" + std::to_string(job.id) + ".xml");
}

HttpResponse tap13(Call& call, const store::Job& job) {
    const Export e = load_export(call, job);
    std::string out = "TAP version 13\n1.." + std::to_string(e.cases.size()) + "\n";
    std::string suite;
    std::size_t n = 0;
    for (const auto& c : e.cases) {
        if (n == 0 || c.suite != suite) {
            suite = c.suite;
            out += "# TAP results for " + suite + "\n";
        }
        const std::string k = std::to_string(++n);
        switch (c.result) {
            case proto::TestResult::kFail: {
                out += "not ok " + k + " " + c.name + "\n";
                if (c.start_log_line && c.end_log_line) {
                    std::string logs = case_log(call, e, c);
                    std::string indented;
                    for (char ch : logs) {
                        indented += ch;
                        if (ch == '\n') indented += ' ';
                    }
                    out += " ---\n " + indented + "...\n";
                }
                break;
            }
            case proto::TestResult::kSkip: out += "ok " + k + " " + c.name + " # SKIP test skipped\n"; break;
            case proto::TestResult::kUnknown: out += "not ok " + k + " " + c.name + " # TODO unknown result\n"; break;
            default: out += "ok " + k + " " + c.name + "\n";
        }
    }
    return attachment(out, "application/yaml", "job_" + std::to_string(job.id) + ".yaml");
}

HttpResponse csv_export(Call& call, const store::Job& job) {
    return attachment(cases_csv(load_export(call, job).cases, job.id), "application/csv",
                      "job_" + std::to_string(job.id) + ".csv");
}

HttpResponse yaml_export(Call& call, const store::Job& job) {
    return attachment(cases_yaml(load_export(call, job).cases, job.id), "application/yaml",
                      "job_" + std::to_string(job.id) + ".yaml");
}

}  // namespace

void add_result_routes(App& app) {
    for (const auto& [suffix, export_fn] :
         std::vector<std::pair<std::string, HttpResponse (*)(Call&, const store::Job&)>>{
             {"junit", junit}, {"tap13", tap13}, {"csv", csv_export}, {"yaml", yaml_export}}) {
        app.route("GET", "/api/v0.2/jobs/{id}/" + suffix + "/", [fn = export_fn](Call& call) {
            const auto job = visible_job(call);
            if (!job) return not_found();
            return fn(call, *job);
        });
    }
    app.route("GET", "/api/v0.2/jobs/{id}/logs/", [](Call& call) {
        const auto job = visible_job(call);
        if (!job) return not_found();
        const auto extent = store::JobRepository(call.tx).log_extent(job->id);
        const store::JobOutput output(call.app.settings().web.job_output, job->id, job->submit_time);
        const auto range =
            output.range({extent.lines, extent.bytes}, query_int(call, "start").value_or(0), query_int(call, "end"));
        if (!range || range->length == 0) return not_found();
        HttpResponse r = attachment({}, "application/yaml", "job_" + std::to_string(job->id) + ".yaml");
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
        for (const auto& s : results.suites(job->id, kPageSize, (*page - 1) * kPageSize)) {
            out.push_back(suite_json(call, s));
        }
        return json_response(200, paginated_pages(call, *page, kPageSize, count, std::move(out)));
    });
    app.route("GET", "/api/v0.2/jobs/{id}/suites/{suite}/", [](Call& call) {
        const auto job = visible_job(call);
        const auto sid = id_param(call, "suite");
        if (!job || !sid) return not_found();
        const auto suite = store::ResultRepository(call.tx).suite(job->id, *sid);
        if (!suite) return not_found();
        return json_response(200, suite_json(call, *suite));
    });
    app.route("GET", "/api/v0.2/jobs/{id}/suites/{suite}/tests/", [](Call& call) {
        const auto job = visible_job(call);
        const auto sid = id_param(call, "suite");
        if (!job || !sid || !store::ResultRepository(call.tx).suite(job->id, *sid)) return not_found();
        return cases_page(call, job->id, *sid);
    });
    app.route("GET", "/api/v0.2/jobs/{id}/tests/", [](Call& call) {
        const auto job = visible_job(call);
        if (!job) return not_found();
        return cases_page(call, job->id, std::nullopt);
    });
    // One case, in the job or in one of its suites (the cases' resource_uri).
    const auto one_case = [](Call& call, bool in_suite) {
        const auto job = visible_job(call);
        const auto tid = id_param(call, "test");
        const auto sid = in_suite ? id_param(call, "suite") : std::nullopt;
        if (!job || !tid || (in_suite && !sid)) return not_found();
        const auto c = store::ResultRepository(call.tx).test_case(job->id, sid, *tid);
        if (!c) return not_found();
        return json_response(200, case_json(call, job->id, *c));
    };
    app.route("GET", "/api/v0.2/jobs/{id}/tests/{test}/", [one_case](Call& call) { return one_case(call, false); });
    app.route("GET", "/api/v0.2/jobs/{id}/suites/{suite}/tests/{test}/",
              [one_case](Call& call) { return one_case(call, true); });
}

}  // namespace lava::server::web
