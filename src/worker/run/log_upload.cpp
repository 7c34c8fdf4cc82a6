#include "worker/run/log_upload.hpp"

#include "common/client/http.hpp"
#include "common/proto/json.hpp"
#include "worker/run/job_log.hpp"

#include <nlohmann/json.hpp>

#include <memory>

namespace lava::worker::run {

using common::client::HttpCall;
using common::client::HttpResponse;
using common::client::form_encode;
using common::client::http_request;


LogUploader::LogUploader(LogUploadOptions options, std::function<void()> on_gone)
    : options_(std::move(options)), on_gone_(std::move(on_gone)), batch_limit_(options_.max_records) {
    thread_ = std::thread([this] { loop(); });
}

LogUploader::~LogUploader() { close(); }

void LogUploader::push(std::string line) {
    std::lock_guard lock(mutex_);
    if (gone_) return;
    waiting_.push_back(std::move(line));
    if (waiting_.size() >= options_.max_records) wake_.notify_one();
}

void LogUploader::close(std::chrono::seconds flush_for) {
    {
        std::lock_guard lock(mutex_);
        if (!closing_) {
            closing_ = true;
            flush_deadline_ = std::chrono::steady_clock::now() + flush_for;
        }
        wake_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
}

bool LogUploader::post(std::size_t count, int& status) {
    std::string lines;
    std::size_t index = 0;
    {
        std::lock_guard lock(mutex_);
        count = std::min(count, waiting_.size());
        for (std::size_t i = 0; i < count; ++i) {
            if (i) lines.push_back('\n');
            lines += waiting_[i];
        }
        index = index_;
    }
    HttpCall call;
    call.method = "POST";
    call.url = options_.url + "/scheduler/internal/v1/jobs/" + options_.job_id + "/logs/";
    call.headers = {{"LAVA-Token", options_.token}, {"User-Agent", "lava 2023.01"},
                    {"Content-Type", "application/x-www-form-urlencoded"}};
    call.body = "lines=" + form_encode(lines) + "&index=" + std::to_string(index);
    call.deadline = std::chrono::steady_clock::now() + options_.request_timeout;
    const auto r = http_request(call);
    status = r.status;
    if (r.status != 200) return false;
    const std::string& response = r.body;
    const auto json = proto::parse_json(response);
    if (!json.is_object() || !json.contains("line_count") || !json["line_count"].is_number_integer()) return false;
    const auto taken = std::min<std::size_t>(json["line_count"].get<std::size_t>(), count);
    std::lock_guard lock(mutex_);
    waiting_.erase(waiting_.begin(), waiting_.begin() + static_cast<long>(taken));
    index_ += taken;
    return taken > 0;
}

std::size_t LogUploader::retries() const {
    std::lock_guard lock(mutex_);
    return retries_;
}

void LogUploader::loop() {
    auto last = std::chrono::steady_clock::now();
    std::chrono::milliseconds delay(500);
    for (;;) {
        std::size_t count = 0;
        bool closing = false;
        {
            std::unique_lock lock(mutex_);
            wake_.wait_until(lock, last + options_.interval,
                             [&] { return closing_ || waiting_.size() >= options_.max_records; });
            closing = closing_;
            if (gone_ || waiting_.empty()) {
                if (closing) return;
                last = std::chrono::steady_clock::now();
                continue;
            }
            if (closing && std::chrono::steady_clock::now() >= flush_deadline_) return;
            count = std::min(waiting_.size(), batch_limit_);
        }
        last = std::chrono::steady_clock::now();
        int status = 0;
        if (post(count, status)) {
            delay = std::chrono::milliseconds(500);
            continue;
        }
        if (status == 404) {
            {
                std::lock_guard lock(mutex_);
                gone_ = true;
                waiting_.clear();
            }
            if (on_gone_) on_gone_();
            continue;
        }
        if (status == 413) {
            std::lock_guard lock(mutex_);
            if (batch_limit_ == 1) {
                // A single line the server refuses: a failed result in its place (LAVA's way).
                waiting_.front() = "- {\"dt\": \"" + log_timestamp() +
                                   "\", \"lvl\": \"results\", \"msg\": {\"case\": \"log-upload\", "
                                   "\"definition\": \"lava\", \"result\": \"fail\"}}";
            }
            batch_limit_ = std::max<std::size_t>(1, batch_limit_ / 2);
            continue;
        }
        // Unreachable or 5xx: keep the lines, wait (0.5 s doubling up to
        // retry_delay), send again from the same index.
        std::unique_lock lock(mutex_);
        ++retries_;
        const auto until = std::chrono::steady_clock::now() + delay;
        delay = std::min(options_.retry_delay, delay * 2);
        wake_.wait_until(lock, closing_ ? std::min(until, flush_deadline_) : until,
                         [&] { return closing_ && std::chrono::steady_clock::now() >= flush_deadline_; });
    }
}

}  // namespace lava::worker::run
