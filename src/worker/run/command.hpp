#pragma once
// Host commands run by actions (git, power commands): spawned in their own
// process group, output captured and logged line by line at debug level,
// killed (the whole group) at the deadline or when the job is canceled.
// Blocking, on lava-run's main thread.

#include "worker/run/job_log.hpp"

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

namespace lava::worker::run {

struct CommandResult {
    int exit_code = -1;  // -1 when killed by a signal
    std::string output;  // stdout and stderr, interleaved
};

// Runs argv[0] (searched in PATH) with `cwd` ("" for the current one).
// Throws JobFailure: kLAVATimeout at `deadline`, kCanceled when `canceled`
// becomes true, kInfrastructure when it cannot start.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& cwd,
                          std::chrono::steady_clock::time_point deadline, const std::atomic<bool>& canceled,
                          JobLog& log);

// `text` split like a POSIX shell splits words (quotes and backslashes; no
// expansions), as LAVA splits its command strings.
std::vector<std::string> split_command(const std::string& text);

// `text` quoted for a POSIX shell (Python's shlex.quote).
std::string shell_quote(const std::string& text);

}  // namespace lava::worker::run
