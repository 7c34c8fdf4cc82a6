#include "worker/run/job_log.hpp"

#include "common/base/clock.hpp"
#include "common/proto/logline.hpp"

#include <chrono>

namespace lava::worker::run {

namespace data = common::data;

namespace {

// LAVA 2023.01 replaces the message of a record whose line would be this
// long (lava-protocols.md §2.3).
constexpr std::size_t kMaxLine = 1'000'000;

}  // namespace

std::string log_timestamp() { return python_isoformat(std::chrono::system_clock::now()); }

JobLog::JobLog(const std::string& local_path, bool to_stderr, LogForward forward)
    : to_stderr_(to_stderr), forward_(std::move(forward)), clock_(log_timestamp) {
    if (!local_path.empty()) local_ = std::fopen(local_path.c_str(), "we");
}

JobLog::~JobLog() {
    if (local_) std::fclose(local_);
}

void JobLog::add_secret(std::string value) {
    if (value.empty()) return;
    std::lock_guard lock(mutex_);
    secrets_.push_back(std::move(value));
}

std::string JobLog::mask(std::string_view text) const {
    std::string out(text);
    for (const auto& secret : secrets_) {
        for (std::size_t at = out.find(secret); at != std::string::npos; at = out.find(secret, at + 8)) {
            out.replace(at, secret.size(), "[MASKED]");
        }
    }
    return out;
}

void JobLog::text_record(std::string_view lvl, std::string_view text) { record(lvl, data::Value(text)); }

void JobLog::feedback(std::string_view text, std::string_view ns) { record("feedback", data::Value(text), ns); }

void JobLog::results(data::Value msg) {
    // Markers become starttc / endtc of the matching case's result.
    if (const auto* case_id = msg.find("case"); case_id && case_id->is_str()) {
        std::lock_guard lock(mutex_);
        for (auto it = markers_.begin(); it != markers_.end(); ++it) {
            if (it->case_id != case_id->as_str()) continue;
            msg = data::with_item(msg, "starttc", static_cast<long long>(it->start));
            msg = data::with_item(msg, "endtc", static_cast<long long>(it->ended ? it->end : lines_));
            markers_.erase(it);
            break;
        }
    }
    record("results", std::move(msg));
}

void JobLog::record(std::string_view lvl, data::Value msg, std::string_view ns) {
    std::lock_guard lock(mutex_);
    if (msg.is_str() && !secrets_.empty()) msg = data::Value(mask(msg.as_str()));
    const std::string dt = clock_();
    const auto dump = [&](data::Value m) {
        data::Dict fields{{data::Value("dt"), data::Value(dt)}, {data::Value("lvl"), data::Value(lvl)},
                          {data::Value("msg"), std::move(m)}};
        if (!ns.empty()) fields.emplace_back(data::Value("ns"), data::Value(ns));
        return "- " + proto::dump_log_record(data::Value(std::move(fields)));
    };
    const bool text = msg.is_str();
    std::string line = dump(std::move(msg));
    if (line.size() >= kMaxLine + 2) {
        line = text ? dump(data::Value("<line way too long ...>"))
                    : dump(data::Value(data::Dict{{data::Value("skip"), data::Value("line way too long ...")}}));
    }
    ++lines_;
    if (local_) {
        std::fwrite(line.data(), 1, line.size(), local_);
        std::fputc('\n', local_);
        std::fflush(local_);
    }
    if (to_stderr_) {
        line.push_back('\n');
        std::fwrite(line.data(), 1, line.size(), stderr);
        line.pop_back();
    }
    if (forward_) forward_(std::move(line));
}

std::size_t JobLog::lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
}

void JobLog::mark_start(const std::string& case_id) {
    std::lock_guard lock(mutex_);
    markers_.push_back({case_id, lines_, 0, false});
}

void JobLog::mark_end(const std::string& case_id) {
    std::lock_guard lock(mutex_);
    for (auto it = markers_.rbegin(); it != markers_.rend(); ++it) {
        if (it->case_id == case_id && !it->ended) {
            it->end = lines_;
            it->ended = true;
            return;
        }
    }
}

}  // namespace lava::worker::run
