#include "server/store/retention.hpp"

#include "server/store/sql.hpp"

namespace lava::server::store {
namespace {

using common::db::Statement;

#define OLD_JOBS                                                                                   \
    " FROM test_jobs j WHERE coalesce(j.end_time, j.submit_time) < now() - make_interval(secs => $1) " \
    "AND j.state = ANY($2::smallint[]) AND j.state NOT BETWEEN 1 AND 4 "                            \
    "AND ($3 = '' OR j.submitter_id = (SELECT u.id FROM users u WHERE u.username = $3))"

const Statement kCountOld{"retention.count", "SELECT count(*)" OLD_JOBS};
const Statement kRemoveOld{
    "retention.remove",
    "WITH doomed AS (SELECT j.id" OLD_JOBS " ORDER BY j.id LIMIT $4 FOR UPDATE SKIP LOCKED) "
    "DELETE FROM test_jobs t USING doomed WHERE t.id = doomed.id RETURNING t.id, " LAVA_SQL_ISO("t.submit_time")};

std::string states_literal(const std::vector<proto::JobState>& states) {
    std::vector<std::int64_t> codes;
    for (auto s : states) codes.push_back(static_cast<std::int64_t>(s));
    return int_array_literal(codes);
}

}  // namespace

long count_old_jobs(common::db::Tx& tx, const RetentionFilter& f) {
    return tx.exec1(kCountOld, static_cast<double>(f.older_than_s), states_literal(f.states), f.submitter)[0].as<long>();
}

std::vector<RemovedJob> remove_old_jobs(common::db::Tx& tx, const RetentionFilter& f, long limit) {
    std::vector<RemovedJob> out;
    for (const auto& r :
         tx.exec(kRemoveOld, static_cast<double>(f.older_than_s), states_literal(f.states), f.submitter, limit)) {
        out.push_back(RemovedJob{r[0].as<std::int64_t>(), r[1].as<std::string>()});
    }
    return out;
}

}  // namespace lava::server::store
