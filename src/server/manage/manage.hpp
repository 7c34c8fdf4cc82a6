#pragma once
// The lava-server command line: `lava-server [settings] manage <command> ...`,
// mirroring LAVA's `lava-server manage` names and flags (migrate, users,
// tokens, groups, device-types, workers, devices, tags, device-tags, aliases,
// status). Every command runs in one transaction: it either does all it says
// or changes nothing. Runs on the calling thread.

#include <ostream>
#include <string>
#include <vector>

namespace lava::server::manage {

// Runs the command line `args` (args[0] is the program name). Returns the
// exit code: 0 done, 1 the command failed (one line on `err`), 2 bad usage.
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace lava::server::manage
