#pragma once
// Test jobs: creation, lookup, the visibility rule, listing with LAVA's REST
// filters (`field`, `field__lookup`, related `a__b`), ordering and paging,
// and cancellation. Repository over the caller's transaction.

#include "common/base/error.hpp"
#include "common/db/pool.hpp"
#include "common/proto/states.hpp"
#include "server/store/users.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lava::server::store {

struct Job {
    std::int64_t id = 0;
    std::string sub_id;
    bool is_public = false;
    std::optional<std::string> target_group;
    std::int64_t submitter_id = 0;
    std::string submitter;
    std::string description;
    bool health_check = false;
    std::optional<std::string> requested_device_type;
    std::optional<std::string> actual_device;
    std::optional<std::string> worker;  // the actual device's worker
    std::string submit_time;  // ISO 8601 UTC with microseconds, no zone
    std::optional<std::string> start_time;
    std::optional<std::string> end_time;
    proto::JobState state = proto::JobState::kSubmitted;
    proto::JobHealth health = proto::JobHealth::kUnknown;
    int priority = 50;
    std::string definition;
    std::string original_definition;
    std::string multinode_definition;
    std::optional<std::int64_t> queue_timeout;
    std::optional<std::string> failure_comment;
    std::string token;
    std::string metadata;  // JSON text
    // A Submitted job: why lava-scheduler has not placed it yet ("" before
    // its first pass); other states: "".
    std::string waiting_reason;
    std::vector<std::int64_t> viewing_groups;
    std::vector<std::int64_t> tags;
    std::vector<std::int64_t> failure_tags;
};

struct NewJob {
    std::int64_t submitter_id = 0;
    std::string submitter;  // the submitter's username (for the Job returned)
    std::string description;
    bool health_check = false;
    std::optional<std::string> requested_device_type;
    int priority = 50;
    bool is_public = false;
    std::vector<std::int64_t> viewing_groups;
    std::vector<std::int64_t> tags;
    std::string definition;
    std::string original_definition;
    std::string multinode_definition;
    std::optional<std::string> target_group;
    std::optional<std::int64_t> queue_timeout;
    std::string metadata = "{}";
};

// The caller, for visibility: nullopt is anonymous.
using Viewer = std::optional<Principal>;

struct LogExtentRow {
    std::uint64_t lines = 0;
    std::uint64_t bytes = 0;
};

struct LogState {
    std::string token;
    std::string submit_time;
    LogExtentRow extent;
};

// A listing request: filters as REST query parameters, ordering, paging.
struct JobQuery {
    std::vector<std::pair<std::string, std::string>> filters;  // (field[__lookup], value)
    std::string ordering = "-id";
    long limit = 50;
    long offset = 0;
    // false: JobPage::count stays 0 (a count over a million jobs is the
    // slow part of a page: the web UI pages by key without it).
    bool count = true;
};

struct JobPage {
    long count = 0;
    std::vector<Job> jobs;
};

class JobRepository {
public:
    explicit JobRepository(common::db::Tx& tx) : tx_(tx) {}

    // Inserts the job with a fresh 32-character token; returns it as stored
    // (Submitted, health Unknown), without reading it back.
    Job insert(const NewJob& job);
    void set_sub_id(std::int64_t id, const std::string& sub_id);
    std::optional<Job> get(std::int64_t id);
    // The id a display id names: "N", or a MultiNode sub_id "N.M" (nullopt
    // for text that is neither, or an unknown sub_id).
    std::optional<std::int64_t> id_of(const std::string& display_id);
    // `get`, if the viewer may see the job.
    std::optional<Job> get_visible(std::int64_t id, const Viewer& viewer);
    // Whether anonymous viewers may see the job (get_visible for nobody, in
    // one statement); nullopt for an unknown job.
    std::optional<bool> is_public(std::int64_t id);
    // The jobs of a MultiNode group, by sub_id.
    std::vector<Job> group(const std::string& target_group);
    // Bad filter values and unknown orderings are errors naming the parameter.
    Result<JobPage> list(const JobQuery& query, const Viewer& viewer);

    // The log's committed extent and what an upload needs, row locked
    // (uploads of one job are serialized); nullopt for an unknown job.
    std::optional<LogState> lock_log(std::int64_t id);
    void set_log_extent(std::int64_t id, std::uint64_t lines, std::uint64_t bytes);
    // The committed extent, unlocked (readers).
    LogExtentRow log_extent(std::int64_t id);
    // Appends to failure_comment (LAVA keeps up to 256 characters per note).
    void append_failure_comment(std::int64_t id, const std::string& note);
    void set_failure_comment(std::int64_t id, const std::string& comment);

    // The jobs a worker must start, cancel, or keeps running (worker API
    // ping): Scheduled, Canceling and Running jobs on its devices.
    struct WorkerJob {
        std::int64_t id = 0;
        std::string token;
        proto::JobState state = proto::JobState::kSubmitted;
    };
    std::vector<WorkerJob> worker_jobs(const std::string& worker);

private:
    common::db::Tx& tx_;
};

// The job's visibility to `viewer` (LAVA's TestJob.can_view) as an SQL
// condition on the alias `j`, appending its parameters to `params`. Looks up
// the device types and devices hidden from the viewer first, so the
// condition costs column comparisons per job, not subqueries.
std::string job_visible_sql(common::db::Tx& tx, const Viewer& viewer, std::vector<std::string>& params);

}  // namespace lava::server::store
