#pragma once
// How a job fails (lava-protocols.md §2.2): LAVA's error types, carried by
// the one exception type lava-run's actions throw. An action that cannot go
// on throws JobFailure; the pipeline unwinds to the job, which logs it, runs
// finalize and writes result.yaml. (An exception rather than Result<>: the
// failure may come from deep inside a console conversation, and every level
// above only has to let it pass and clean up, which RAII does.)

#include <stdexcept>
#include <string>
#include <string_view>

namespace lava::worker::run {

enum class ErrorType {
    kInfrastructure,    // the lab failed: download, DUT connection, QEMU
    kJob,               // the job definition asks for something impossible
    kBug,               // lava-run itself is wrong
    kTest,              // the test said so (lava-test-raise)
    kConfiguration,     // device or dispatcher configuration
    kLAVATimeout,       // an action or the job ran out of time
    kMultinodeTimeout,  // a MultiNode protocol call ran out of time
    kCanceled,          // a signal asked lava-run to stop
};

// LAVA's names: "Infrastructure", "Job", ..., "LAVATimeout", "Canceled".
std::string_view error_type_name(ErrorType type);

class JobFailure : public std::runtime_error {
public:
    JobFailure(ErrorType type, const std::string& message) : std::runtime_error(message), type_(type) {}
    ErrorType type() const { return type_; }

private:
    ErrorType type_;
};

[[noreturn]] inline void fail(ErrorType type, const std::string& message) { throw JobFailure(type, message); }

}  // namespace lava::worker::run
