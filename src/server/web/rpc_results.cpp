// XML-RPC results.* (lava-protocols.md §3.3): a job's test results as YAML
// or CSV text, through the exports REST uses (results_export).

#include "server/web/results_export.hpp"
#include "server/web/rpc.hpp"

#include <nlohmann/json.hpp>

namespace lava::server::web::rpc {
namespace {

// The job for results.*: authentication first; LAVA words refusals its own way here.
store::Job results_job(RpcCall& c) {
    c.require_user();
    const std::string id = c.has(0) ? c.job_id(0) : "";
    if (id.empty() || id == "0") throw RpcFault{400, "Bad request: TestJob id was not specified."};
    store::JobRepository jobs(c.tx());
    const auto pk = jobs.id_of(id);
    if (!pk || !jobs.get(*pk)) throw RpcFault{404, "Specified job not found."};
    auto job = jobs.get_visible(*pk, c.who().user);
    if (!job) throw RpcFault{401, "Permission denied for user to job " + id};
    return std::move(*job);
}

std::vector<store::TestSuite> suites_of(RpcCall& c, const store::Job& job) {
    store::ResultRepository results(c.tx());
    return results.suites(job.id, std::max(1L, results.count_suites(job.id)), 0);
}

store::TestSuite suite_named(RpcCall& c, const store::Job& job, const std::string& name) {
    for (auto& s : suites_of(c, job)) {
        if (s.name == name) return std::move(s);
    }
    throw RpcFault{404, "Specified test suite not found."};
}

std::vector<store::TestCase> cases_of(RpcCall& c, const store::Job& job, std::optional<std::int64_t> suite,
                                      std::optional<std::int64_t> limit = std::nullopt, std::int64_t offset = 0) {
    store::ResultRepository results(c.tx());
    const long count = results.count_cases(job.id, suite);
    return results.cases(job.id, suite, limit ? std::max<long>(0, *limit) : std::max(1L, count),
                         std::max<long>(0, offset));
}

std::vector<store::TestCase> suite_cases(RpcCall& c, const store::Job& job) {
    const auto suite = suite_named(c, job, c.str(1));
    std::optional<std::int64_t> limit;
    if (c.has(2)) limit = c.integer(2, 0);
    return cases_of(c, job, suite.id, limit, c.integer(3, 0));
}

}  // namespace

void add_result_methods(Registry& r) {
    r.add({"results.get_testjob_results_yaml", {"job_id"}, 1,
           "Every test case of a job as a YAML list of LAVA's export records (name, job, suite, result, "
           "measurement, unit, level, url, id, logged, log_start_line, log_end_line, metadata).",
           [](RpcCall& c) {
               const auto job = results_job(c);
               return Value(cases_yaml(cases_of(c, job, std::nullopt), job.id));
           }});
    r.add({"results.get_testjob_results_csv", {"job_id"}, 1, "Every test case of a job as CSV.", [](RpcCall& c) {
               const auto job = results_job(c);
               return Value(cases_csv(cases_of(c, job, std::nullopt), job.id));
           }});
    r.add({"results.get_testjob_metadata", {"job_id"}, 1,
           "The job's metadata as a list of one-key mappings.", [](RpcCall& c) {
               const auto job = results_job(c);
               Array out;
               for (const auto& [k, v] : metadata_items(job.metadata)) out.push_back(Value().set(k, v));
               return Value(std::move(out));
           }});
    r.add({"results.get_testjob_suites_list_yaml", {"job_id"}, 1, "The job's test suites (name, job, id) as YAML.",
           [](RpcCall& c) {
               const auto job = results_job(c);
               return Value(suites_yaml(suites_of(c, job)));
           }});
    r.add({"results.get_testjob_suites_list_csv", {"job_id"}, 1, "The job's test suites (name, job, id) as CSV.",
           [](RpcCall& c) {
               const auto job = results_job(c);
               return Value(suites_csv(suites_of(c, job)));
           }});
    r.add({"results.get_testsuite_results_yaml", {"job_id", "suite_name", "limit", "offset"}, 2,
           "The test cases of one suite of a job as YAML (limit/offset optional).", [](RpcCall& c) {
               const auto job = results_job(c);
               return Value(cases_yaml(suite_cases(c, job), job.id));
           }});
    r.add({"results.get_testsuite_results_csv", {"job_id", "suite_name", "limit", "offset"}, 2,
           "The test cases of one suite of a job as CSV (limit/offset optional).", [](RpcCall& c) {
               const auto job = results_job(c);
               return Value(cases_csv(suite_cases(c, job), job.id));
           }});
    r.add({"results.get_testsuite_results_count", {"job_id", "suite_name"}, 2,
           "How many test cases one suite of a job has.", [](RpcCall& c) {
               const auto job = results_job(c);
               const auto suite = suite_named(c, job, c.str(1));
               return Value(store::ResultRepository(c.tx()).count_cases(job.id, suite.id));
           }});
    const auto case_results = [](bool yaml) {
        return [yaml](RpcCall& c) {
            const auto job = results_job(c);
            const auto suite = suite_named(c, job, c.str(1));
            const auto name = c.str(2);
            std::vector<store::TestCase> matching;
            for (auto& tc : cases_of(c, job, suite.id)) {
                if (tc.name == name) matching.push_back(std::move(tc));
            }
            return Value(yaml ? cases_yaml(matching, job.id) : cases_csv(matching, job.id));
        };
    };
    r.add({"results.get_testcase_results_yaml", {"job_id", "suite_name", "case_name"}, 3,
           "The test cases of that name in one suite of a job, as YAML.", case_results(true)});
    r.add({"results.get_testcase_results_csv", {"job_id", "suite_name", "case_name"}, 3,
           "The test cases of that name in one suite of a job, as CSV.", case_results(false)});
}

}  // namespace lava::server::web::rpc
