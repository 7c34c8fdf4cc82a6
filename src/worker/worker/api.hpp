#pragma once
// lava-worker's side of the worker API (lava-protocols.md §1.1-1.4): register,
// ping, job fetch, state POSTs, over the blocking HTTP client. Stateless
// between calls; used from the worker's main thread.

#include "common/base/error.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace lava::worker::worker {

// The protocol version reported to the server (LAVA 2023.01's).
inline constexpr const char* kProtocolVersion = "2023.01";

struct JobRef {
    long long id = 0;
    std::string token;
};

struct PingReply {
    int status = 0;  // HTTP status, 0 when unreachable
    std::string error;
    std::vector<JobRef> start, cancel, running;
};

struct JobFiles {
    int status = 0;
    std::string error;
    std::string definition, device, dispatcher, env, env_dut;
};

struct PostReply {
    int status = 0;
    std::string error;  // the server's {"error": ...} or the transport's
};

class WorkerApi {
public:
    WorkerApi(std::string url, std::string name, std::chrono::seconds timeout);

    // Auto-registration: the worker's token, or an error.
    PostReply register_worker(const std::string& username, const std::string& password, std::string& token) const;
    PingReply ping(const std::string& token) const;
    JobFiles fetch_job(const JobRef& job) const;
    PostReply post_running(const JobRef& job) const;
    PostReply post_finished(const JobRef& job, const std::string& result, const std::string& error_type,
                            const std::string& errors, const std::string& description) const;

private:
    std::string url_;  // without a trailing slash
    std::string name_;
    std::chrono::seconds timeout_;
};

}  // namespace lava::worker::worker
