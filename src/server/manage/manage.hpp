#pragma once
// `lava-server manage <command> ...`, mirroring LAVA's `lava-server manage` names and flags (migrate, users,
// tokens, groups, device-types, workers, devices, tags, device-tags, aliases,
// status). Every command runs in one transaction: it either does all it says
// or changes nothing. Runs on the calling thread.

#include "common/db/pool.hpp"

#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace lava::server::manage {

// What `manage check` and `manage jobs rm` need of lava-server's settings.
struct LabSettings {
    std::string settings_file;               // the file read; "" when none was
    std::string dispatcher_config;           // devices/, device-types/, health-checks/
    std::vector<std::string> template_dirs;  // searched after device-types/
    std::string job_output;                  // the jobs' logs
    std::string publisher;                   // host:port of lava-publisher's WebSocket ("" : none)
};

// The `manage` subcommands, registered on the CLI11 subcommand `manage` of
// lava-server's command line (server/web/cli.cpp). After parsing, run()
// executes the one the user chose.
class Commands {
public:
    explicit Commands(CLI::App& manage);
    ~Commands();
    Commands(const Commands&) = delete;
    Commands& operator=(const Commands&) = delete;

    // Whether a manage command was given on the command line.
    bool selected() const;
    // Runs it. Returns the exit code: 0 done, 1 the command failed (one line on `err`).
    int run(const common::db::DbSettings& db, const LabSettings& lab, std::ostream& out, std::ostream& err);

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace lava::server::manage
