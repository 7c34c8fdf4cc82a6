#pragma once
// lava-coordinator's settings and start-up pieces, out of main.cpp so that
// tests link them: LAVA's own configuration file (a JSON object, which our
// settings loader reads as YAML), LAVA's command-line flags, and the
// metrics. Used once at start-up, on the main thread.

#include "server/coordinator/server.hpp"

#include <string>
#include <vector>

namespace lava::common::config {
class SettingsLoader;
}
namespace lava::common::metrics {
class Registry;
}

namespace lava::server::coordinator {

// LAVA's path; the same file tells lava-run where the coordinator is.
constexpr const char* kDefaultConfig = "/etc/lava-coordinator/lava-coordinator.conf";

struct CoordinatorSettings {
    int port = 3079;
    int blocksize = 4096;  // read by the clients (LAVA's chunk size)
    int poll_delay = 3;    // read by the clients: seconds between polls
    std::string coordinator_hostname = "localhost";  // read by the clients
    std::string bind = "0.0.0.0";
    int client_timeout_s = 10;
    int max_message_bytes = 1024 * 1024;
    int group_timeout_s = 48 * 3600;
};

void register_settings(common::config::SettingsLoader& loader, CoordinatorSettings& settings);
ServerOptions server_options(const CoordinatorSettings& settings);

// argv with LAVA's flags rewritten to ours, so LAVA's unit files and habits
// keep working: --config FILE -> --settings FILE; --loglevel/-l
// DEBUG|INFO|WARN|ERROR -> --log-level debug|info|warning|error;
// --logfile - (stdout) -> --log-file "" (stderr, the journal), --logfile F
// -> --log-file F. The pointers stay valid for the process's life.
std::vector<char*> translate_lava_flags(int argc, char** argv);

// Hooks that count requests by name and reply, dropped connections by
// reason, and export the number of groups and clients.
ServerHooks metrics_hooks(common::metrics::Registry& registry);

}  // namespace lava::server::coordinator
