#include "common/log/log.hpp"

#include "common/base/text.hpp"
#include "common/config/settings.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>

namespace lava::common::log {
namespace {

// spdlog formatter producing one JSON object per line.
class JsonFormatter final : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        const auto secs = std::chrono::floor<std::chrono::seconds>(msg.time);
        const auto micros =
            std::chrono::duration_cast<std::chrono::microseconds>(msg.time - secs).count();
        const std::string ts = fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:06d}Z",
                                           fmt::gmtime(std::chrono::system_clock::to_time_t(secs)),
                                           micros);
        const auto level = spdlog::level::to_string_view(msg.level);
        std::string line = format_json(ts, std::string_view(level.data(), level.size()),
                                       std::string_view(msg.logger_name.data(), msg.logger_name.size()),
                                       std::string_view(msg.payload.data(), msg.payload.size()));
        line += '\n';
        dest.append(line.data(), line.data() + line.size());
    }
    std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<JsonFormatter>();
    }
};

struct State {
    std::mutex mutex;
    spdlog::sink_ptr sink;
    spdlog::level::level_enum level = spdlog::level::info;
};

State& state() {
    static State s;
    return s;
}

}  // namespace

std::string format_json(std::string_view ts, std::string_view level, std::string_view logger,
                        std::string_view msg) {
    return "{\"ts\":" + json_quote(ts) + ",\"level\":" + json_quote(level) +
           ",\"logger\":" + json_quote(logger) + ",\"msg\":" + json_quote(msg) + "}";
}

void register_settings(config::SettingsLoader& loader, LogSettings& settings) {
    loader.add_choice("log_level", &settings.level, "Log level",
                      {"trace", "debug", "info", "warning", "error", "critical", "off"});
    loader.add_choice("log_format", &settings.format, "Log format on stderr", {"text", "json"});
}

void init(const LogSettings& settings) {
    auto& s = state();
    std::lock_guard lock(s.mutex);
    s.sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    if (settings.format == "json") {
        s.sink->set_formatter(std::make_unique<JsonFormatter>());
    } else {
        s.sink->set_formatter(
            std::make_unique<spdlog::pattern_formatter>("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v"));
    }
    s.level = settings.level == "warning" ? spdlog::level::warn
                                          : spdlog::level::from_str(settings.level);
    spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) {
        l->sinks().assign(1, s.sink);
        l->set_level(s.level);
    });
}

std::shared_ptr<spdlog::logger> get(std::string_view name) {
    const std::string key(name);
    if (auto existing = spdlog::get(key)) return existing;
    auto& s = state();
    std::lock_guard lock(s.mutex);
    if (auto existing = spdlog::get(key)) return existing;
    if (!s.sink) s.sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto logger = std::make_shared<spdlog::logger>(key, s.sink);
    logger->set_level(s.level);
    spdlog::register_logger(logger);
    return logger;
}

}  // namespace lava::common::log
