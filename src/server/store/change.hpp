#pragma once
// Who changed a device or worker, and why: recorded in the append-only
// history tables (device_state_changes, worker_state_changes).

#include <string>

namespace lava::server::store {

struct Change {
    std::string actor;   // a username, "manage:<login>", or a daemon name
    std::string reason;  // free text, may be empty
};

// "Good → Bad" + " (reason)" when there is one: LAVA's change-message style.
inline std::string with_reason(std::string what, const std::string& reason) {
    if (!reason.empty()) what += " (" + reason + ")";
    return what;
}

}  // namespace lava::server::store
