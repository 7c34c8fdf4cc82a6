#pragma once
// The job's log as LAVA writes it (lava-protocols.md §2.3): one YAML flow
// mapping per line, {"dt", "lvl", "msg"[, "ns"]}, every record numbered in
// order. Each line goes to a local copy (<output-dir>/logs.yaml, always), to
// stderr when there is no server, and to the uploader when there is one.
// Markers (start/end of a test case) are not lines: they note the current
// line number for the next `results` record (starttc/endtc).
//
// Owned by the job; the pipeline writes from lava-run's main thread, the
// uploader reads from its own thread: record() is thread-safe.

#include "common/data/value.hpp"

#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace lava::worker::run {

// Where lines go besides the local copy (the uploader).
using LogForward = std::function<void(std::string line)>;

// 2023.01's `dt`: naive UTC, Python's isoformat() (microseconds only when
// not zero).
std::string log_timestamp();

class JobLog {
public:
    // `local_path`: the local copy ("" for none); `to_stderr`: also write
    // each line to stderr; `forward`: the uploader, if any.
    JobLog(const std::string& local_path, bool to_stderr, LogForward forward = {});
    ~JobLog();
    JobLog(const JobLog&) = delete;
    JobLog& operator=(const JobLog&) = delete;

    void debug(std::string_view text) { text_record("debug", text); }
    void info(std::string_view text) { text_record("info", text); }
    void warning(std::string_view text) { text_record("warning", text); }
    void error(std::string_view text) { text_record("error", text); }
    void exception(std::string_view text) { text_record("exception", text); }
    void input(std::string_view text) { text_record("input", text); }
    void target(std::string_view text) { text_record("target", text); }
    void event(std::string_view text) { text_record("event", text); }
    void feedback(std::string_view text, std::string_view ns);
    void results(common::data::Value msg);
    // Any level, any message (mapping, list or text).
    void record(std::string_view lvl, common::data::Value msg, std::string_view ns = {});

    // Secret values never reach a log line: every occurrence in a text
    // message becomes [MASKED].
    void add_secret(std::string value);

    // The number of lines written so far (the next line's 0-based index).
    std::size_t lines() const;

    // Test-case markers: the current line, to be attached to the next results
    // record of `case_id` as starttc / endtc.
    void mark_start(const std::string& case_id);
    void mark_end(const std::string& case_id);

    // Sets `clock` (tests).
    void set_clock(std::function<std::string()> clock) { clock_ = std::move(clock); }

private:
    void text_record(std::string_view lvl, std::string_view text);
    std::string mask(std::string_view text) const;

    mutable std::mutex mutex_;
    std::FILE* local_ = nullptr;
    bool to_stderr_;
    LogForward forward_;
    std::function<std::string()> clock_;
    std::vector<std::string> secrets_;
    std::size_t lines_ = 0;
    struct Marker {
        std::string case_id;
        std::size_t start = 0;
        std::size_t end = 0;
        bool ended = false;
    };
    std::vector<Marker> markers_;
};

}  // namespace lava::worker::run
