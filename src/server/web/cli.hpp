#pragma once
// The lava-server command line: `lava-server [settings] manage <command>`
// and `lava-server [settings] serve`. Settings come from flags, LAVA_*
// variables and /etc/lava-server/settings.yaml (see common/config).

#include <ostream>
#include <string>
#include <vector>

namespace lava::server::web {

// Runs `args` (args[0] is the program name); returns the exit code:
// 0 done, 1 failed (one line on `err`), 2 bad usage or settings.
int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace lava::server::web
