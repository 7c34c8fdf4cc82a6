#pragma once
// Test results of a job: suites ("lava" for the dispatcher's own actions,
// "<n>_<name>" per test definition), optional sets, and cases with result,
// measurement, units, the log lines they span and LAVA's metadata text.
// Repository over the caller's transaction.

#include "common/db/pool.hpp"
#include "common/proto/states.hpp"
#include "server/store/users.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lava::server::store {

struct NewTestCase {
    std::string suite;
    std::optional<std::string> set;
    std::string name;
    proto::TestResult result = proto::TestResult::kUnknown;
    std::optional<std::string> measurement;  // decimal text
    std::string units;
    std::string metadata;
    std::optional<std::int64_t> start_log_line;
    std::optional<std::int64_t> end_log_line;
};

struct TestSuite {
    std::int64_t id = 0;
    std::int64_t job_id = 0;
    std::string name;
};

struct TestCase {
    std::int64_t id = 0;
    std::int64_t suite_id = 0;
    std::string suite;
    std::optional<std::int64_t> set_id;
    std::optional<std::string> set;
    std::string name;
    std::string units;
    proto::TestResult result = proto::TestResult::kUnknown;
    std::optional<std::string> measurement;
    std::optional<std::string> metadata;
    std::optional<std::int64_t> start_log_line;
    std::optional<std::int64_t> end_log_line;
    std::string logged;  // ISO 8601 UTC
};

// A suite with its cases counted by result (the web UI's results pages).
struct SuiteSummary {
    std::int64_t job_id = 0;
    std::int64_t suite_id = 0;
    std::string name;
    long pass = 0;
    long fail = 0;
    long skip = 0;
    long unknown = 0;
};

class ResultRepository {
public:
    explicit ResultRepository(common::db::Tx& tx) : tx_(tx) {}

    // Stores the cases in order, creating suites and sets as needed.
    void add(std::int64_t job_id, const std::vector<NewTestCase>& cases);

    long count_suites(std::int64_t job_id);
    std::vector<TestSuite> suites(std::int64_t job_id, long limit, long offset);
    std::optional<TestSuite> suite(std::int64_t job_id, std::int64_t suite_id);

    // Cases of the job (or of one suite), by id.
    long count_cases(std::int64_t job_id, std::optional<std::int64_t> suite_id = std::nullopt);
    std::vector<TestCase> cases(std::int64_t job_id, std::optional<std::int64_t> suite_id, long limit,
                                long offset);
    // One case of the job (and of the suite, when given), or nullopt.
    std::optional<TestCase> test_case(std::int64_t job_id, std::optional<std::int64_t> suite_id,
                                      std::int64_t case_id);

    // The metadata text of the first case `name` of suite `suite` (the
    // "lava"/"job" case carries the job's error_type and error_msg).
    std::optional<std::string> case_metadata(std::int64_t job_id, const std::string& suite, const std::string& name);

    // The job's suites, counted.
    std::vector<SuiteSummary> suite_summaries(std::int64_t job_id);
    // The suites of the newest jobs `viewer` may see (jobs before job id
    // `before` when given), newest first: at most `limit` suites, whole jobs.
    std::vector<SuiteSummary> recent_suites(const std::optional<Principal>& viewer,
                                            std::optional<std::int64_t> before, long limit);

private:
    common::db::Tx& tx_;
};

}  // namespace lava::server::store
