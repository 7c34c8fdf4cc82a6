#pragma once
// Named spdlog loggers writing to stderr or to a file, as human text or as
// one JSON object per line. Under systemd, when stderr is the journal
// ($JOURNAL_STREAM names it), text lines carry no timestamp (the journal has
// its own) and start with the syslog priority prefix ("<3>" for errors), so
// `journalctl -p err` works. A log file (log_file) is reopened on SIGHUP,
// for logrotate. init() runs once in main before any thread starts; get()
// is thread-safe afterwards.
// Never log secrets: tokens, passwords, or connection strings with passwords.

#include <spdlog/logger.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace lava::common::config {
class SettingsLoader;
}

namespace lava::common::log {

struct LogSettings {
    std::string level = "info";   // trace, debug, info, warning, error, critical, off
    std::string format = "text";  // text or json
    std::string file;             // "" : stderr
};

// Registers log_level, log_format and log_file.
void register_settings(config::SettingsLoader& loader, LogSettings& settings);

// Configures the shared sink, level and format for every logger, and makes
// SIGHUP reopen the log file (and do nothing else). Returns why the log
// file cannot be opened, or nullopt.
std::optional<std::string> init(const LogSettings& settings);

// Whether stderr is systemd's journal ($JOURNAL_STREAM is stderr's device
// and inode).
bool stderr_is_journal();

// The logger called `name` ("db", "manage", "http"...), created on first use.
std::shared_ptr<spdlog::logger> get(std::string_view name);

// Formats one record as a JSON object: {"ts":..., "level":..., "logger":..., "msg":...}
std::string format_json(std::string_view ts, std::string_view level, std::string_view logger,
                        std::string_view msg);

}  // namespace lava::common::log
