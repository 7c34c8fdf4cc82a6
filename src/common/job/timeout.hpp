#pragma once
// LAVA timeouts: {days|hours|minutes|seconds: N} (one unit, N >= 1, plus an
// optional `skip`), as job, action and connection timeouts are written.

#include "common/data/value.hpp"

#include <chrono>
#include <optional>

namespace lava::common::job {

// The duration of a timeout mapping, summing the units present as LAVA's
// Timeout.parse does; nullopt when it is not a mapping of numbers.
std::optional<std::chrono::duration<double>> parse_timeout(const data::Value& timeout);

}  // namespace lava::common::job
