#pragma once
// `lava-server serve`: the HTTP daemon.

#include "server/web/settings.hpp"

#include <ostream>

namespace lava::server::web {

// Serves until SIGTERM/SIGINT; returns the exit code (0 after a clean stop).
int serve(const ServerSettings& settings, std::ostream& err);

}  // namespace lava::server::web
