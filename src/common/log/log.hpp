#pragma once
// Named spdlog loggers writing to stderr (journald picks stderr up under
// systemd), as human text or as one JSON object per line. init() runs once in
// main before any thread starts; get() is thread-safe afterwards.
// Never log secrets: tokens, passwords, or connection strings with passwords.

#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <string_view>

namespace lava::common::config {
class SettingsLoader;
}

namespace lava::common::log {

struct LogSettings {
    std::string level = "info";   // trace, debug, info, warning, error, critical, off
    std::string format = "text";  // text or json
};

// Registers log_level and log_format.
void register_settings(config::SettingsLoader& loader, LogSettings& settings);

// Configures the shared stderr sink, level and format for every logger.
void init(const LogSettings& settings);

// The logger called `name` ("db", "manage", "http"...), created on first use.
std::shared_ptr<spdlog::logger> get(std::string_view name);

// Formats one record as a JSON object: {"ts":..., "level":..., "logger":..., "msg":...}
std::string format_json(std::string_view ts, std::string_view level, std::string_view logger,
                        std::string_view msg);

}  // namespace lava::common::log
