#pragma once
// A short-lived cache of REST read responses (docs/adr/0006-response-cache.md).
// Key: the caller's credentials (Authorization and Cookie headers, verbatim),
// the Host header and the request target; so a response is only ever served
// to a request that would have been answered the same way, visibility
// included. An entry lives `ttl` at most and dies as soon as this process
// handles any write (the generation changes). Thread-safe; lookups are cheap
// enough for the I/O threads.

#include "common/net/http.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace lava::server::web {

class ResponseCache {
public:
    ResponseCache(std::chrono::milliseconds ttl, std::size_t max_entries) : ttl_(ttl), max_entries_(max_entries) {}

    bool enabled() const { return ttl_.count() > 0; }
    // Whether `request` may be answered from (and stored in) the cache.
    static bool cacheable(const common::net::HttpRequest& request);
    // Whether `request` may change data (then it invalidates the cache).
    static bool is_write(const common::net::HttpRequest& request);

    std::optional<common::net::HttpResponse> find(const common::net::HttpRequest& request);
    // Stores a 200 response computed while the generation was `generation`.
    void store(const common::net::HttpRequest& request, const common::net::HttpResponse& response,
               std::uint64_t generation);

    std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
    // Every write (before it runs and after it commits) invalidates everything.
    void invalidate() { generation_.fetch_add(1, std::memory_order_acq_rel); }

private:
    static std::string key(const common::net::HttpRequest& request);

    struct Entry {
        common::net::HttpResponse response;
        std::uint64_t generation;
        std::chrono::steady_clock::time_point expires;
    };
    const std::chrono::milliseconds ttl_;
    const std::size_t max_entries_;
    std::atomic<std::uint64_t> generation_{0};
    std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
};

}  // namespace lava::server::web
