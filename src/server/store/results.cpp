#include "server/store/results.hpp"

#include "server/store/jobs.hpp"
#include "server/store/sql.hpp"

#include <map>

namespace lava::server::store {
namespace {

using common::db::Statement;

const Statement kSuiteId{
    "results.suite_id",
    "WITH ins AS (INSERT INTO test_suites (job_id, name) VALUES ($1, $2) ON CONFLICT (job_id, name) "
    "DO NOTHING RETURNING id) SELECT id FROM ins UNION ALL SELECT id FROM test_suites WHERE job_id = $1 "
    "AND name = $2 LIMIT 1"};
const Statement kSetId{
    "results.set_id",
    "WITH ins AS (INSERT INTO test_sets (suite_id, name) VALUES ($1, $2) ON CONFLICT (suite_id, name) "
    "DO NOTHING RETURNING id) SELECT id FROM ins UNION ALL SELECT id FROM test_sets WHERE suite_id = $1 "
    "AND name = $2 LIMIT 1"};
// One statement for a whole batch: parallel arrays, unnested.
const Statement kInsertCases{
    "results.insert_cases",
    "INSERT INTO test_cases (suite_id, test_set_id, name, result, measurement, units, metadata, "
    "start_log_line, end_log_line) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], "
    "$4::smallint[], $5::numeric[], $6::text[], $7::text[], $8::bigint[], $9::bigint[])"};
const Statement kCaseMetadata{
    "results.case_metadata",
    "SELECT c.metadata FROM test_cases c JOIN test_suites s ON s.id = c.suite_id "
    "WHERE s.job_id = $1 AND s.name = $2 AND c.name = $3 ORDER BY c.id LIMIT 1"};
const Statement kCountSuites{"results.count_suites", "SELECT count(*) FROM test_suites WHERE job_id = $1"};
const Statement kSuites{"results.suites",
                        "SELECT id, job_id, name FROM test_suites WHERE job_id = $1 ORDER BY id LIMIT $2 OFFSET $3"};
const Statement kSuite{"results.suite", "SELECT id, job_id, name FROM test_suites WHERE job_id = $1 AND id = $2"};
const Statement kCountCases{
    "results.count_cases",
    "SELECT count(*) FROM test_cases c JOIN test_suites s ON s.id = c.suite_id WHERE s.job_id = $1 "
    "AND ($2::bigint IS NULL OR s.id = $2)"};
const Statement kCases{
    "results.cases",
    "SELECT c.id, c.suite_id, s.name, c.test_set_id, t.name, c.name, c.units, c.result, c.measurement::text, "
    "c.metadata, c.start_log_line, c.end_log_line, " LAVA_SQL_ISO("c.logged") " FROM test_cases c "
    "JOIN test_suites s ON s.id = c.suite_id LEFT JOIN test_sets t ON t.id = c.test_set_id "
    "WHERE s.job_id = $1 AND ($2::bigint IS NULL OR s.id = $2) ORDER BY c.id LIMIT $3 OFFSET $4"};
const Statement kCase{
    "results.case",
    "SELECT c.id, c.suite_id, s.name, c.test_set_id, t.name, c.name, c.units, c.result, c.measurement::text, "
    "c.metadata, c.start_log_line, c.end_log_line, " LAVA_SQL_ISO("c.logged") " FROM test_cases c "
    "JOIN test_suites s ON s.id = c.suite_id LEFT JOIN test_sets t ON t.id = c.test_set_id "
    "WHERE s.job_id = $1 AND ($2::bigint IS NULL OR s.id = $2) AND c.id = $3"};

const Statement kSuiteSummaries{
    "results.suite_summaries",
    "SELECT s.job_id, s.id, s.name, count(c.id) FILTER (WHERE c.result = 0), count(c.id) FILTER (WHERE c.result = 1), "
    "count(c.id) FILTER (WHERE c.result = 2), count(c.id) FILTER (WHERE c.result = 3) FROM test_suites s "
    "LEFT JOIN test_cases c ON c.suite_id = s.id WHERE s.job_id = $1 GROUP BY s.id ORDER BY s.id"};

SuiteSummary to_summary(const pqxx::row& r) {
    return SuiteSummary{r[0].as<std::int64_t>(), r[1].as<std::int64_t>(), r[2].as<std::string>(), r[3].as<long>(),
                        r[4].as<long>(),          r[5].as<long>(),          r[6].as<long>()};
}

// PostgreSQL array text for the unnest() insert.
class ArrayText {
public:
    void add_null() { add_raw("NULL"); }
    void add(std::int64_t v) { add_raw(std::to_string(v)); }
    void add(const std::optional<std::int64_t>& v) { v ? add(*v) : add_null(); }
    void add(const std::string& s) {
        std::string q = "\"";
        for (char c : s) {
            if (c == '"' || c == '\\') q += '\\';
            q += c;
        }
        add_raw(q + "\"");
    }
    void add(const std::optional<std::string>& v) { v ? add(*v) : add_null(); }
    std::string str() const { return "{" + text_ + "}"; }

private:
    void add_raw(const std::string& s) {
        if (!text_.empty()) text_ += ',';
        text_ += s;
    }
    std::string text_;
};

std::optional<std::int64_t> opt_int(const pqxx::field& f) {
    if (f.is_null()) return std::nullopt;
    return f.as<std::int64_t>();
}
std::optional<std::string> opt_text(const pqxx::field& f) {
    if (f.is_null()) return std::nullopt;
    return f.as<std::string>();
}

TestSuite to_suite(const pqxx::row& r) {
    return TestSuite{r[0].as<std::int64_t>(), r[1].as<std::int64_t>(), r[2].as<std::string>()};
}

}  // namespace

void ResultRepository::add(std::int64_t job_id, const std::vector<NewTestCase>& cases) {
    if (cases.empty()) return;
    std::map<std::string, std::int64_t> suites;
    std::map<std::pair<std::int64_t, std::string>, std::int64_t> sets;
    ArrayText suite_ids, set_ids, names, results, measurements, units, metadata, starts, ends;
    for (const auto& c : cases) {
        auto s = suites.find(c.suite);
        if (s == suites.end()) {
            s = suites.emplace(c.suite, tx_.exec1(kSuiteId, job_id, c.suite)[0].as<std::int64_t>()).first;
        }
        std::optional<std::int64_t> set_id;
        if (c.set) {
            const auto key = std::make_pair(s->second, *c.set);
            auto t = sets.find(key);
            if (t == sets.end()) {
                t = sets.emplace(key, tx_.exec1(kSetId, s->second, *c.set)[0].as<std::int64_t>()).first;
            }
            set_id = t->second;
        }
        suite_ids.add(s->second);
        set_ids.add(set_id);
        names.add(c.name);
        results.add(static_cast<std::int64_t>(c.result));
        measurements.add(c.measurement);
        units.add(c.units);
        metadata.add(c.metadata);
        starts.add(c.start_log_line);
        ends.add(c.end_log_line);
    }
    tx_.exec(kInsertCases, suite_ids.str(), set_ids.str(), names.str(), results.str(), measurements.str(),
             units.str(), metadata.str(), starts.str(), ends.str());
}

long ResultRepository::count_suites(std::int64_t job_id) { return tx_.exec1(kCountSuites, job_id)[0].as<long>(); }

std::vector<TestSuite> ResultRepository::suites(std::int64_t job_id, long limit, long offset) {
    std::vector<TestSuite> out;
    for (const auto& r : tx_.exec(kSuites, job_id, limit, offset)) out.push_back(to_suite(r));
    return out;
}

std::optional<TestSuite> ResultRepository::suite(std::int64_t job_id, std::int64_t suite_id) {
    auto r = tx_.exec01(kSuite, job_id, suite_id);
    if (!r) return std::nullopt;
    return to_suite(*r);
}

long ResultRepository::count_cases(std::int64_t job_id, std::optional<std::int64_t> suite_id) {
    return tx_.exec1(kCountCases, job_id, suite_id)[0].as<long>();
}

namespace {

TestCase to_case(const pqxx::row& r) {
    TestCase c;
    c.id = r[0].as<std::int64_t>();
    c.suite_id = r[1].as<std::int64_t>();
    c.suite = r[2].as<std::string>();
    c.set_id = opt_int(r[3]);
    c.set = opt_text(r[4]);
    c.name = r[5].as<std::string>();
    c.units = r[6].as<std::string>();
    c.result = static_cast<proto::TestResult>(r[7].as<int>());
    c.measurement = opt_text(r[8]);
    c.metadata = opt_text(r[9]);
    c.start_log_line = opt_int(r[10]);
    c.end_log_line = opt_int(r[11]);
    c.logged = r[12].as<std::string>();
    return c;
}

}  // namespace

std::vector<TestCase> ResultRepository::cases(std::int64_t job_id, std::optional<std::int64_t> suite_id,
                                              long limit, long offset) {
    std::vector<TestCase> out;
    for (const auto& r : tx_.exec(kCases, job_id, suite_id, limit, offset)) out.push_back(to_case(r));
    return out;
}

std::optional<TestCase> ResultRepository::test_case(std::int64_t job_id, std::optional<std::int64_t> suite_id,
                                                    std::int64_t case_id) {
    auto row = tx_.exec01(kCase, job_id, suite_id, case_id);
    if (!row) return std::nullopt;
    return to_case(*row);
}

std::optional<std::string> ResultRepository::case_metadata(std::int64_t job_id, const std::string& suite,
                                                           const std::string& name) {
    auto row = tx_.exec01(kCaseMetadata, job_id, suite, name);
    if (!row || (*row)[0].is_null()) return std::nullopt;
    return (*row)[0].as<std::string>();
}

std::vector<SuiteSummary> ResultRepository::suite_summaries(std::int64_t job_id) {
    std::vector<SuiteSummary> out;
    for (const auto& r : tx_.exec(kSuiteSummaries, job_id)) out.push_back(to_summary(r));
    return out;
}

std::vector<SuiteSummary> ResultRepository::recent_suites(const std::optional<Principal>& viewer,
                                                          std::optional<std::int64_t> before, long limit) {
    // The newest visible jobs that have suites (walking the suites' job_id
    // index backwards: the cost follows the suites read, not the jobs
    // without results), then their suites counted.
    std::vector<std::string> params;
    const std::string visible = job_visible_sql(tx_, viewer, params);
    params.push_back(before ? std::to_string(*before) : std::string("9223372036854775807"));
    const std::string below = "$" + std::to_string(params.size()) + "::bigint";
    params.push_back(std::to_string(limit));
    const std::string n = "$" + std::to_string(params.size()) + "::bigint";
    const std::string sql =
        "WITH jobs AS (SELECT x.job_id AS id FROM test_suites x JOIN test_jobs j ON j.id = x.job_id WHERE x.job_id < " +
        below + " AND " + visible + " GROUP BY x.job_id ORDER BY x.job_id DESC LIMIT " + n +
        ") SELECT s.job_id, s.id, s.name, count(c.id) FILTER (WHERE c.result = 0), "
        "count(c.id) FILTER (WHERE c.result = 1), count(c.id) FILTER (WHERE c.result = 2), "
        "count(c.id) FILTER (WHERE c.result = 3) FROM jobs JOIN test_suites s ON s.job_id = jobs.id "
        "LEFT JOIN test_cases c ON c.suite_id = s.id GROUP BY s.id ORDER BY s.job_id DESC, s.id";
    std::vector<SuiteSummary> out;
    for (const auto& r : tx_.exec_dynamic(sql, params)) out.push_back(to_summary(r));
    return out;
}

}  // namespace lava::server::store
