#pragma once
// A small blocking HTTP/1.1 client for the lab's programs (lava-run's
// downloads, streamed to a sink with progress, HEAD checks and log upload;
// lava-worker's calls to the worker API): http and
// https (OpenSSL, peer and host name verified), redirects, chunked bodies,
// one connection per request ("Connection: close"). Every wait is bounded by
// the request's deadline and can be stopped by the progress callback.
// libcurl did this before; with its ~30 shared libraries it alone was 9 MB
// of lava-run's 17.6 MB RSS (docs/adr/0009-lava-run.md).
// Thread-safe: requests share nothing (the log uploader has its own thread).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace lava::common::client {

struct HttpCall {
    std::string method = "GET";  // GET, HEAD or POST
    std::string url;             // http:// or https://
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;  // for POST
    std::chrono::steady_clock::time_point deadline;
    // The body as it arrives (else it is kept in HttpResponse::body);
    // return false to stop.
    std::function<bool(const char* data, std::size_t size)> on_body;
    // Called as the body arrives and while waiting (at least every 200 ms);
    // `total` is 0 when unknown. Return false to stop.
    std::function<bool(std::uint64_t received, std::uint64_t total)> on_progress;
    int max_redirects = 5;
};

struct HttpResponse {
    int status = 0;     // 0 when no response came
    std::string error;  // why not, when status is 0 (or the transfer broke)
    bool stopped = false;   // a callback said stop
    bool timed_out = false;  // the deadline passed
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;
    std::string url;  // after redirects
};

HttpResponse http_request(const HttpCall& call);

// application/x-www-form-urlencoded encoding of one value.
std::string form_encode(const std::string& value);

}  // namespace lava::common::client
