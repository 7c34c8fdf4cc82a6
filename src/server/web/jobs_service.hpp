#pragma once
// Job operations shared by every front end (REST now, XML-RPC and the web UI
// later): submission with LAVA's checks, cancel, resubmit. Each works inside
// the caller's transaction and queues the resulting events on the Call.

#include "common/base/error.hpp"
#include "server/store/jobs.hpp"
#include "server/store/transitions.hpp"
#include "server/web/app.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace lava::server::web {

// Why a submission failed; the front ends word each kind as LAVA does.
enum class submit_errc {
    kProblem = 1,  // invalid definition: "Problem with submitted job data: ..."
    kUnavailable,  // "Devices unavailable: ..."
    kNotFound,     // "Specified device or device type not found."
};
const boost::system::error_category& submit_category() noexcept;
boost::system::error_code make_error_code(submit_errc e) noexcept;

struct Submitted {
    std::vector<std::int64_t> ids;    // every job created
    std::vector<std::string> sub_ids; // MultiNode: "N.M", in role order
    bool multinode = false;
};

// Validates and stores a job definition for `call.who` (who must be a user).
// `original_url`: resubmission adds metadata job.original.
Result<Submitted> submit_job(Call& call, const std::string& definition,
                             const std::optional<std::string>& original_url = std::nullopt);

// LAVA's cancel permission: the submitter, a superuser, or staff.
bool can_cancel(const store::Job& job, const Identity& who);

// The job named by the path parameter `param`, if the caller may see it
// (REST, the web UI).
std::optional<store::Job> visible_job(Call& call, const std::string& param = "id");

// Whether a job in this state can still be canceled (not ending or ended).
bool cancellable(proto::JobState state);

// Cancels the job (a MultiNode job: its whole group); queues events.
void cancel_job(Call& call, std::int64_t id);

// LAVA's TestJob.cancel for the caller: a job that is ending or ended is left
// alone; otherwise the caller needs can_cancel. Nullopt when done (or nothing
// to do), else why not ("Insufficient permissions").
std::optional<std::string> cancel_for(Call& call, const store::Job& job);

// Resubmits a job's definition (a MultiNode job: the whole group's);
// `original_url` as submit_job's.
Result<Submitted> resubmit_job(Call& call, const store::Job& job,
                               const std::optional<std::string>& original_url = std::nullopt);

// Queues the events of what a transition touched (jobs, devices).
void queue_touched(Call& call, const store::Touched& touched);
// Queues a worker event.
void queue_worker_event(Call& call, const std::string& hostname);

}  // namespace lava::server::web

template <>
struct boost::system::is_error_code_enum<lava::server::web::submit_errc> : std::true_type {};
