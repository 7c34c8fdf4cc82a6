#pragma once
// Maps (method, path) to a handler. Patterns are paths with {name}
// placeholders ("/api/v0.2/jobs/{id}/"); the trailing slash is optional when
// matching, as clients differ. Built once at start-up; then read-only and
// shared by all threads.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lava::server::web {

using Params = std::map<std::string, std::string>;

template <class Handler>
class Router {
public:
    void add(std::string method, std::string pattern, Handler handler) {
        auto segments = split(pattern);
        routes_.push_back(Route{std::move(method), std::move(pattern), std::move(segments), std::move(handler)});
    }

    struct Match {
        const Handler* handler = nullptr;  // null: no route for this method
        const std::string* pattern = nullptr;  // the route's pattern, with handler
        Params params;
        bool path_known = false;  // some route matches the path with another method
        std::vector<std::string> allowed;
    };

    Match match(std::string_view method, std::string_view path) const {
        Match m;
        const auto segments = split(path);
        for (const auto& r : routes_) {
            Params params;
            if (!matches(r.segments, segments, params)) continue;
            m.path_known = true;
            m.allowed.push_back(r.method);
            if (r.method == method && !m.handler) {
                m.handler = &r.handler;
                m.pattern = &r.pattern;
                m.params = std::move(params);
            }
        }
        return m;
    }

private:
    struct Route {
        std::string method;
        std::string pattern;
        std::vector<std::string> segments;
        Handler handler;
    };

    static std::vector<std::string> split(std::string_view path) {
        std::vector<std::string> out;
        std::size_t start = 0;
        while (start < path.size()) {
            std::size_t end = path.find('/', start);
            if (end == std::string_view::npos) end = path.size();
            if (end > start) out.emplace_back(path.substr(start, end - start));
            start = end + 1;
        }
        return out;
    }

    static bool matches(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
                        Params& params) {
        if (pattern.size() != path.size()) return false;
        for (std::size_t i = 0; i < pattern.size(); ++i) {
            const auto& p = pattern[i];
            if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
                params[p.substr(1, p.size() - 2)] = path[i];
            } else if (p != path[i]) {
                return false;
            }
        }
        return true;
    }

    std::vector<Route> routes_;
};

}  // namespace lava::server::web
