#pragma once
// Sends the job's log to the server's worker API (lava-protocols.md §1.6):
// POST <url>/scheduler/internal/v1/jobs/<id>/logs/ with `lines` (a YAML block
// sequence) and `index` (the lines the server already has); the server says
// how many of this batch it took (`line_count`). Batches of at most 1,000
// lines, sent every `interval` or when 1,000 are waiting. A failed or 5xx
// request keeps the lines and is retried after a back-off (0.5 s doubling up
// to retry_delay; the index makes a resend idempotent); 413 halves the batch
// (a single refused line becomes a failed `log-upload` result); 404 means the server no longer
// knows the job (`on_gone` is called once). Nothing is dropped while the
// process lives: close() flushes, retrying until its deadline.
//
// One thread of its own; push() may be called from any thread.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace lava::worker::run {

struct LogUploadOptions {
    std::string url;  // the server's base URL
    std::string job_id;
    std::string token;
    std::chrono::milliseconds interval{5000};
    std::chrono::milliseconds retry_delay{5000};  // the longest back-off
    std::size_t max_records = 1000;
    std::chrono::seconds request_timeout{120};
};

class LogUploader {
public:
    LogUploader(LogUploadOptions options, std::function<void()> on_gone = {});
    ~LogUploader();  // close(), with the default flush deadline
    LogUploader(const LogUploader&) = delete;
    LogUploader& operator=(const LogUploader&) = delete;

    // One record line ("- {...}").
    void push(std::string line);
    // Sends what is left; gives up after `flush_for` (the lines stay in the
    // local copy). Idempotent.
    void close(std::chrono::seconds flush_for = std::chrono::seconds(300));
    // Uploads that failed (unreachable server, 5xx) and were tried again.
    std::size_t retries() const;

private:
    void loop();
    // One POST of up to `count` waiting lines; true when the server took some.
    bool post(std::size_t count, int& status);

    LogUploadOptions options_;
    std::function<void()> on_gone_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::string> waiting_;
    std::size_t index_ = 0;  // lines confirmed
    std::size_t batch_limit_;
    std::size_t retries_ = 0;
    bool closing_ = false;
    bool gone_ = false;
    std::chrono::steady_clock::time_point flush_deadline_;
    std::thread thread_;
};

}  // namespace lava::worker::run
