#include "server/web/response_cache.hpp"

namespace lava::server::web {

bool ResponseCache::is_write(const common::net::HttpRequest& request) {
    if (request.method != "GET" && request.method != "HEAD") return true;
    // LAVA's jobs/<id>/cancel/ is a GET that cancels; signing out is a GET too.
    const auto& p = request.path;
    if (p.rfind("/accounts/", 0) == 0) return true;
    return p.size() >= 7 && (p.compare(p.size() - 7, 7, "cancel/") == 0 || p.compare(p.size() - 6, 6, "cancel") == 0);
}

bool ResponseCache::cacheable(const common::net::HttpRequest& request) {
    return request.method == "GET" && request.path.rfind("/api/v0.2/", 0) == 0 && !is_write(request);
}

std::string ResponseCache::key(const common::net::HttpRequest& r) {
    std::string k;
    for (const char* name : {"authorization", "cookie", "host"}) {
        k += r.header(name);
        k += '\n';
    }
    return k + r.target;
}

std::optional<common::net::HttpResponse> ResponseCache::find(const common::net::HttpRequest& request) {
    const auto now = std::chrono::steady_clock::now();
    const auto current = generation();
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(key(request));
    if (it == entries_.end()) return std::nullopt;
    if (it->second.generation != current || it->second.expires <= now) {
        entries_.erase(it);
        return std::nullopt;
    }
    return it->second.response;
}

void ResponseCache::store(const common::net::HttpRequest& request, const common::net::HttpResponse& response,
                          std::uint64_t generation) {
    if (response.status != 200 || !response.file_path.empty()) return;
    if (generation != this->generation()) return;  // a write ran meanwhile: the response may be stale
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    if (entries_.size() >= max_entries_) {
        for (auto it = entries_.begin(); it != entries_.end();) {
            it = it->second.expires <= now || it->second.generation != generation ? entries_.erase(it) : std::next(it);
        }
        if (entries_.size() >= max_entries_) entries_.clear();
    }
    entries_[key(request)] = Entry{response, generation, now + ttl_};
}

}  // namespace lava::server::web
