#include "common/log/log.hpp"

#include "common/base/text.hpp"
#include "common/config/settings.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>

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

std::atomic<bool> g_reopen{false};

void on_sighup(int) { g_reopen.store(true); }

// stderr, or a file reopened at the next record after SIGHUP (logrotate
// moved it away). With `journal`, each record starts with its syslog
// priority prefix.
class Sink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    Sink(std::string path, bool journal) : path_(std::move(path)), journal_(journal) {
        if (!path_.empty()) open();
    }
    ~Sink() override {
        if (file_ != nullptr) std::fclose(file_);
    }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        if (!path_.empty() && g_reopen.exchange(false)) {
            std::fclose(file_);
            file_ = nullptr;
            open();
        }
        spdlog::memory_buf_t text;
        formatter_->format(msg, text);
        std::FILE* out = file_ != nullptr ? file_ : stderr;
        if (journal_) std::fputs(priority(msg.level), out);
        std::fwrite(text.data(), 1, text.size(), out);
        std::fflush(out);
    }
    void flush_() override { std::fflush(file_ != nullptr ? file_ : stderr); }

private:
    void open() {
        file_ = std::fopen(path_.c_str(), "ae");
        if (file_ == nullptr) {
            throw std::runtime_error("cannot open the log file " + path_ + ": " + std::strerror(errno));
        }
    }
    static const char* priority(spdlog::level::level_enum level) {
        switch (level) {
            case spdlog::level::trace:
            case spdlog::level::debug: return "<7>";
            case spdlog::level::info: return "<6>";
            case spdlog::level::warn: return "<4>";
            case spdlog::level::err: return "<3>";
            case spdlog::level::critical: return "<2>";
            default: return "<6>";
        }
    }

    std::string path_;
    bool journal_;
    std::FILE* file_ = nullptr;
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
    loader.add_choice("log_format", &settings.format, "Log format", {"text", "json"});
    loader.add("log_file", &settings.file, "Write the log to this file, reopened on SIGHUP (empty: stderr, the journal under systemd)");
}

bool stderr_is_journal() {
    const char* stream = std::getenv("JOURNAL_STREAM");
    if (stream == nullptr || *stream == '\0') return false;
    struct stat st {};
    if (::fstat(2, &st) != 0) return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
    return dev == static_cast<unsigned long long>(st.st_dev) && ino == static_cast<unsigned long long>(st.st_ino);
}

std::optional<std::string> init(const LogSettings& settings) {
    auto& s = state();
    std::lock_guard lock(s.mutex);
    const bool journal = settings.file.empty() && stderr_is_journal();
    try {
        s.sink = std::make_shared<Sink>(settings.file, journal && settings.format == "text");
    } catch (const std::runtime_error& e) {
        return std::string(e.what());
    }
    if (settings.format == "json") {
        s.sink->set_formatter(std::make_unique<JsonFormatter>());
    } else if (journal) {
        // The journal stamps each line itself.
        s.sink->set_formatter(std::make_unique<spdlog::pattern_formatter>("%-5l [%n] %v"));
    } else {
        s.sink->set_formatter(
            std::make_unique<spdlog::pattern_formatter>("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v"));
    }
    struct sigaction sa {};
    sa.sa_handler = on_sighup;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ::sigaction(SIGHUP, &sa, nullptr);
    s.level = settings.level == "warning" ? spdlog::level::warn
                                          : spdlog::level::from_str(settings.level);
    spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) {
        l->sinks().assign(1, s.sink);
        l->set_level(s.level);
    });
    return std::nullopt;
}

std::shared_ptr<spdlog::logger> get(std::string_view name) {
    const std::string key(name);
    if (auto existing = spdlog::get(key)) return existing;
    auto& s = state();
    std::lock_guard lock(s.mutex);
    if (auto existing = spdlog::get(key)) return existing;
    if (!s.sink) s.sink = std::make_shared<Sink>(std::string(), false);
    auto logger = std::make_shared<spdlog::logger>(key, s.sink);
    logger->set_level(s.level);
    spdlog::register_logger(logger);
    return logger;
}

}  // namespace lava::common::log
