#pragma once
// lava-run's side of MultiNode (lava-protocols.md §6.2-6.4): the
// lava-multinode protocol of a sub-job (its target_group, role, group_size,
// roles), talking to lava-coordinator as LAVA's dispatcher does: one request
// per connection, polled every poll_delay seconds while the answer is
// "wait", up to a timeout (then MultinodeTimeout). At the start of the run
// the node registers and waits for its group (group_data, and lava_start
// for a delayed role); the test shell hands it the DUT's <LAVA_MULTI_NODE>
// signals; finalize clears the group. Lives on lava-run's main thread.

#include "common/data/value.hpp"
#include "worker/run/job_error.hpp"
#include "worker/run/job_log.hpp"

#include <nlohmann/json_fwd.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lava::worker::run {

// Where the coordinator is, read from LAVA's file
// (/etc/lava-coordinator/lava-coordinator.conf) with LAVA's defaults.
struct CoordinatorSettings {
    std::string host = "localhost";
    int port = 3079;
    int blocksize = 4096;
    int poll_delay = 1;
};
// Throws JobFailure: Infrastructure "Missing coordinator configuration"
// when the file is absent, Configuration when it is not a JSON object.
CoordinatorSettings read_coordinator_settings(const std::string& path);

// What the DUT's helper printed, once handled: the line to type back
// (empty: nothing to type) and the test case to record, which fails when
// the answer did not come in time (`timeout` then says which call).
struct SignalReply {
    std::string line;       // "<LAVA_SYNC_COMPLETE>", "<LAVA_WAIT_COMPLETE 12:k=v>"...
    std::string test_case;  // "multinode-sync-<msgid>" (lower case)
    std::optional<JobFailure> timeout;  // MultinodeTimeout
};

class MultinodeProtocol {
public:
    // The protocol of `job` (protocols.lava-multinode with a target_group),
    // or nullptr for a single-node job.
    static std::unique_ptr<MultinodeProtocol> from_job(const common::data::Value& job, std::string job_id,
                                                       JobLog& log, const std::atomic<bool>& canceled,
                                                       int cancel_fd);

    // Registers with the group and waits for all of it (LAVA's system
    // timeout, 90 s), then, for a role with `request: lava-start`, for its
    // expect_role's lava_start (the role's `timeout`). Throws JobFailure.
    void set_up(const std::string& config_path);
    // clear_group; logs and goes on when the coordinator does not answer.
    void finalise();

    // One DUT signal <LAVA_MULTI_NODE> <LAVA_<name> <params>>. Throws
    // JobFailure Test when the coordinator refuses a send (or Canceled); a
    // MultinodeTimeout is in the reply, with the test case to fail first.
    SignalReply signal(std::string_view name, std::string_view params);

    // The protocol calls of an action block (LAVA's `protocols:
    // lava-multinode: [{action: NAME, request: lava-send|lava-wait|
    // lava-wait-all|lava-sync, messageID, message, timeout}]`) naming the
    // action `action`, made as it starts (e.g. the lava_start a delayed role
    // waits for). Throws JobFailure as signal() does.
    void action_calls(const std::string& action, const common::data::Value& parameters);

    const std::string& role() const { return role_; }
    const std::string& job_id() const { return job_id_; }
    // {job id: role} of the whole group, in the scheduler's order.
    std::vector<std::pair<std::string, std::string>> roles() const;

    // Exposed for tests: one request/reply over its own connection (the
    // reply's JSON text; "" when the coordinator closed without one;
    // nullopt when it could not be reached).
    static std::optional<std::string> exchange(const CoordinatorSettings& settings, const std::string& payload,
                                std::chrono::steady_clock::time_point deadline);

private:
    MultinodeProtocol(const common::data::Value& params, std::string job_id, JobLog& log,
                      const std::atomic<bool>& canceled, int cancel_fd);
    // Sends `call` (the request's own keys) with this node's base message,
    // polling until the reply is not "wait"; the reply object. `what` names
    // the call in errors ("lava-sync 'ready'").
    nlohmann::ordered_json poll(const nlohmann::ordered_json& call, std::chrono::duration<double> timeout,
                                const std::string& what);
    // The coordinator's answer to one DUT call, as the line to type back.
    std::string answer(std::string_view name, const std::vector<std::string>& words);
    // Sleeps unless canceled (then throws Canceled).
    void pause(std::chrono::duration<double> d) const;

    common::data::Value params_;  // protocols.lava-multinode
    std::string job_id_;
    JobLog& log_;
    const std::atomic<bool>& canceled_;
    int cancel_fd_;
    std::string role_;
    std::string group_;
    long long group_size_ = 0;
    std::chrono::duration<double> system_timeout_{90};
    std::chrono::duration<double> poll_timeout_{30};
    bool delayed_start_ = false;
    std::optional<CoordinatorSettings> settings_;
    std::string hostname_;
};

// The DUT's MultiNode signal: <LAVA_MULTI_NODE> <LAVA_(\S+) ([^>]+)>.
inline constexpr const char* kMultinodeSignalPattern = "<LAVA_MULTI_NODE> <LAVA_(\\S+) ([^>]+)>";

}  // namespace lava::worker::run
