#pragma once
// The actions of a LAVA job that lava-run supports, and the builder that
// turns a job definition into lava-run's pipeline (LAVA's action names and
// nesting, lava-protocols.md §7): deploy tmpfs / downloads, boot qemu /
// minimal, test definitions / interactive, command, and finalize.

#include "worker/run/pipeline.hpp"

#include <memory>
#include <vector>

namespace lava::worker::run {

// The top-level actions of the job (levels 1..n), finalize excluded.
// Unsupported actions become validation errors in ctx.errors.
std::vector<std::unique_ptr<Action>> build_pipeline(JobContext& ctx);

// The finalize action (power off, close the connection, read feedback).
std::unique_ptr<Action> build_finalize(JobContext& ctx);

}  // namespace lava::worker::run
