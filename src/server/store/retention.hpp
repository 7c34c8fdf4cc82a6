#pragma once
// Removing old jobs (`lava-server manage jobs rm`): the rows of jobs that
// ended (or, when asked, that were submitted) more than a given age ago, in
// bounded batches, one transaction each. Active jobs (Scheduling to
// Canceling) are never selected. The results, tags and other rows of a job
// go with it (ON DELETE CASCADE); the caller removes its job-output
// directory once the batch committed.

#include "common/db/pool.hpp"
#include "common/proto/states.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace lava::server::store {

struct RetentionFilter {
    long older_than_s = 0;                        // end_time (else submit_time) before now() minus this
    std::vector<proto::JobState> states;          // kSubmitted and/or kFinished
    std::string submitter;                        // "" : anyone
};

struct RemovedJob {
    std::int64_t id = 0;
    std::string submit_time;  // ISO 8601 UTC, for its job-output directory
};

// How many jobs the filter selects now.
long count_old_jobs(common::db::Tx& tx, const RetentionFilter& filter);

// Deletes up to `limit` of them (lowest ids first; rows another transaction
// holds are skipped) and returns what it deleted.
std::vector<RemovedJob> remove_old_jobs(common::db::Tx& tx, const RetentionFilter& filter, long limit);

}  // namespace lava::server::store
