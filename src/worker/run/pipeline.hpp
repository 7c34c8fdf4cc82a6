#pragma once
// lava-run's pipeline (lava-protocols.md §2, §7): a tree of named actions
// with LAVA's levels ("1", "1.2", "1.2.3"), each with an action timeout and
// a connection timeout resolved from device and job as LAVA does, run in
// order under nested deadlines. Every action logs start:/end: lines and one
// `results` record in the `lava` suite. Lives on lava-run's main thread.

#include "common/data/value.hpp"
#include "worker/run/console.hpp"
#include "worker/run/http_serve.hpp"
#include "worker/run/job_error.hpp"
#include "worker/run/job_log.hpp"
#include "worker/run/multinode.hpp"
#include "worker/run/overlay.hpp"
#include "worker/run/qemu.hpp"
#include "worker/run/signals.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lava::worker::run {

using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

// LAVA's default action and connection timeout (lava_common.constants).
inline constexpr Seconds kDefaultActionTimeout{30};


// What the actions of one job share: its inputs, the log, and what earlier
// actions produced (LAVA's namespace data, for the one namespace we run).
struct JobContext {
    JobLog& log;
    common::data::Value job;         // the job definition
    common::data::Value device;      // the rendered device configuration
    common::data::Value dispatcher;  // dispatcher.yaml (may be None)
    common::data::Value env_dut;     // env-dut.yaml (may be None)
    std::string job_id;
    std::string output_dir;
    std::string tmp_dir;  // removed by finalize
    const std::atomic<bool>& canceled;
    int cancel_fd = -1;
    std::function<std::string()> cancel_reason;  // "Received signal SIGTERM"

    std::string tftp_root;  // the TFTP server's directory (deploy to: tftp)

    std::vector<std::string> errors;  // validation problems

    // MultiNode: the sub-job's protocol (nullptr for a single-node job).
    std::unique_ptr<MultinodeProtocol> multinode;

    // Deploy.
    std::vector<DeployedImage> images;
    std::unique_ptr<Overlay> overlay;
    std::vector<std::vector<TestRunInfo>> stages;  // per test action, in order
    std::string overlay_archive;                   // transfer_overlay: the tar.gz
    // deploy to: tftp (LAVA's namespace data for the bootloader).
    struct Tftp {
        std::string dir;  // <tftp root>/<job id>/tftp-deploy-XXXXXX, removed at the end
        std::map<std::string, std::string> files;  // kernel, ramdisk, dtb, ... -> path under the TFTP root
        std::string kernel_type;                   // image, zimage, uimage; "" when not given
    };
    std::optional<Tftp> tftp;
    std::vector<std::string> bootloader_commands;  // bootloader-overlay's, substituted
    bool at_bootloader_prompt = false;             // bootloader-interrupt waited for the prompt itself
    // Boot.
    std::unique_ptr<Console> console;
    std::string connection;  // the connection command behind `console` ("" for QEMU)
    std::vector<std::string> prompts;
    std::unique_ptr<LocalHttpServer> http;  // serves the overlay to the DUT

    // Throws the JobFailure that a console error means.
    void check(const Result<void>& result, const std::string& doing) const;
    Match check(Result<Match> result, const std::string& doing) const;
    [[noreturn]] void throw_canceled() const;
    // A device constant (constants.<key>), or None.
    common::data::Value constant(const std::string& key) const;
};

class Action {
public:
    Action(std::string name, std::string description, std::string summary);
    virtual ~Action();
    Action(const Action&) = delete;
    Action& operator=(const Action&) = delete;

    const std::string& name() const { return name_; }
    const std::string& level() const { return level_; }
    Seconds timeout() const { return timeout_; }
    Seconds connection_timeout() const { return connection_timeout_; }
    const common::data::Value& parameters() const { return parameters_; }
    std::vector<std::unique_ptr<Action>>& children() { return children_; }

    // Sets the block parameters and resolves the timeouts (LAVA's order:
    // device then job `action`, device then job `actions.<name>`, the
    // block's `timeout`, the block's `timeouts.<name>`; connection: device
    // then job `connection`, then `connections.<name>`).
    void configure(const JobContext& ctx, const common::data::Value& parameters);
    Action& add(std::unique_ptr<Action> child);
    void assign_levels(const std::string& level);

    virtual void validate(JobContext& ctx);  // children's by default
    virtual void run(JobContext& ctx, Clock::time_point deadline);  // children's by default
    virtual void cleanup(JobContext& ctx);  // children's by default
    virtual int max_retries() const { return 1; }
    // Finalize runs even when the job is being canceled.
    virtual bool runs_when_canceled() const { return false; }

    // The description.yaml entry.
    common::data::Value describe() const;
    // Extra keys for this action's results record.
    common::data::Dict results_extra;

    virtual std::string class_name() const { return "Action"; }

protected:
    std::string name_, description_, summary_, level_;
    Seconds timeout_{kDefaultActionTimeout};
    Seconds connection_timeout_{kDefaultActionTimeout};
    common::data::Value parameters_;
    std::vector<std::unique_ptr<Action>> children_;
};

// Runs `actions` in order under `deadline` (LAVA's Pipeline.run_actions):
// start:/end: lines (info for top-level actions), a results record each, the
// action's own timeout, skip_timeout for top-level blocks. Rethrows the
// first failure.
void run_actions(std::vector<std::unique_ptr<Action>>& actions, JobContext& ctx, Clock::time_point deadline,
                 bool top_level);

// An action that runs its children again on failure (failure_retry) and
// repeats them (repeat).
class RetryAction : public Action {
public:
    using Action::Action;
    void run(JobContext& ctx, Clock::time_point deadline) override;
    int max_retries() const override;
    std::string class_name() const override { return "RetryAction"; }
};

// "01:02:03" as LAVA prints durations (seconds_to_str).
std::string duration_text(Seconds seconds);

}  // namespace lava::worker::run
