#include "server/web/app.hpp"

#include "common/base/text.hpp"
#include "common/log/log.hpp"
#include "common/proto/json.hpp"
#include "common/net/metrics_endpoint.hpp"
#include "server/events/events.hpp"
#include "server/store/schema.hpp"
#include "server/ui/ui.hpp"
#include "server/web/response_cache.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace lava::server::web {
namespace {

namespace db = common::db;

std::optional<HttpResponse> authorize(const Call& call, Access access) {
    static const std::string kNotAuthenticated = "Authentication credentials were not provided.";
    const bool read = call.request.method == "GET" || call.request.method == "HEAD" ||
                      call.request.method == "OPTIONS";
    switch (access) {
        case Access::kAnyone: return std::nullopt;
        case Access::kReadAnonymous:
            if (read || call.who.authenticated()) return std::nullopt;
            return rest_detail(403, kNotAuthenticated);
        case Access::kUser:
            if (call.who.authenticated()) return std::nullopt;
            return rest_detail(403, kNotAuthenticated);
        case Access::kSuperuser:
            if (!call.who.authenticated()) return rest_detail(403, kNotAuthenticated);
            if (call.who.superuser()) return std::nullopt;
            return rest_detail(403, "You do not have permission to perform this action.");
    }
    return std::nullopt;
}

// DRF's replace_query_param / remove_query_param: the request's URL with one
// parameter set (or removed), parameters sorted by name.
std::string link(const Call& call, const std::vector<std::pair<std::string, std::string>>& set,
                 const std::string& remove) {
    auto params = call.query_params();
    std::stable_sort(params.begin(), params.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    common::net::FormPairs out;
    for (const auto& kv : params) {
        if (kv.first == remove) continue;
        const bool replaced = std::any_of(set.begin(), set.end(), [&](const auto& s) { return s.first == kv.first; });
        if (!replaced) out.push_back(kv);
    }
    for (const auto& kv : set) out.push_back(kv);
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    const std::string target = call.request.target;
    const std::string query = common::net::encode_form(out);
    return absolute_url(call, target.substr(0, target.find('?'))) + (query.empty() ? "" : "?" + query);
}

}  // namespace

std::string absolute_url(const Call& call, const std::string& path) {
    std::string host(call.request.header("host"));
    if (host.empty()) host = "localhost";
    return "http://" + host + path;
}

namespace {

long positive_param(const Call& call, const std::string& name, long fallback, bool strict) {
    const auto v = call.query(name);
    if (!v) return fallback;
    try {
        std::size_t used = 0;
        const long n = std::stol(*v, &used);
        if (used != v->size() || n < 0 || (strict && n == 0)) return fallback;
        return n;
    } catch (const std::exception&) {
        return fallback;
    }
}

}  // namespace

Page limit_offset(const Call& call) {
    return Page{positive_param(call, "limit", 50, true), positive_param(call, "offset", 0, false)};
}

nlohmann::json paginated(const Call& call, const Page& page, long count, nlohmann::json results) {
    nlohmann::json next = nullptr;
    nlohmann::json previous = nullptr;
    if (page.offset + page.limit < count) {
        next = link(call, {{"limit", std::to_string(page.limit)}, {"offset", std::to_string(page.offset + page.limit)}},
                    "");
    }
    if (page.offset > 0) {
        if (page.offset - page.limit <= 0) {
            previous = link(call, {{"limit", std::to_string(page.limit)}}, "offset");
        } else {
            previous = link(call, {{"limit", std::to_string(page.limit)},
                                   {"offset", std::to_string(page.offset - page.limit)}},
                            "");
        }
    }
    return {{"count", count}, {"next", next}, {"previous", previous}, {"results", std::move(results)}};
}

std::optional<long> page_number(const Call& call, long count, long page_size) {
    const auto text = call.query("page");
    long page = 1;
    if (text && *text != "last") {
        try {
            std::size_t used = 0;
            page = std::stol(*text, &used);
            if (used != text->size()) return std::nullopt;
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }
    const long pages = std::max(1L, (count + page_size - 1) / page_size);
    if (text && *text == "last") page = pages;
    if (page < 1 || page > pages) return std::nullopt;
    return page;
}

nlohmann::json paginated_pages(const Call& call, long page, long page_size, long count, nlohmann::json results) {
    nlohmann::json next = nullptr;
    nlohmann::json previous = nullptr;
    if (page * page_size < count) next = link(call, {{"page", std::to_string(page + 1)}}, "");
    if (page > 1) {
        previous = page == 2 ? link(call, {}, "page") : link(call, {{"page", std::to_string(page - 1)}}, "");
    }
    return {{"count", count}, {"next", next}, {"previous", previous}, {"results", std::move(results)}};
}

// Request text is decoded as Django does: invalid UTF-8 becomes U+FFFD, so
// nothing downstream (the database, JSON) ever sees broken text.
std::vector<std::pair<std::string, std::string>> Call::query_params() const {
    auto pairs = common::net::parse_form(request.query);
    for (auto& [k, v] : pairs) {
        k = to_valid_utf8(k);
        v = to_valid_utf8(v);
    }
    return pairs;
}

std::optional<std::string> Call::query(const std::string& name) const {
    for (const auto& [k, v] : query_params()) {
        if (k == name) return v;
    }
    return std::nullopt;
}

const std::vector<std::pair<std::string, std::string>>& Call::form() const {
    if (!form_cache) {
        form_cache = common::net::parse_form(request.body);
        for (auto& [k, v] : *form_cache) {
            k = to_valid_utf8(k);
            v = to_valid_utf8(v);
        }
    }
    return *form_cache;
}

std::optional<std::string> Call::field(const std::string& name) const {
    const auto type = request.header("content-type");
    if (type.find("application/json") != std::string_view::npos) {
        const auto body = proto::parse_json(request.body);
        if (!body.is_object() || !body.contains(name)) return std::nullopt;
        const auto& v = body[name];
        if (v.is_string()) return v.get<std::string>();
        if (v.is_null()) return std::nullopt;
        return v.dump();
    }
    for (const auto& [k, v] : form()) {
        if (k == name) return v;
    }
    return std::nullopt;
}

std::optional<std::int64_t> id_param(const Call& call, const std::string& name) {
    return parse_id(call.params.at(name));
}

HttpResponse json_response(int status, const nlohmann::json& body) {
    HttpResponse r;
    r.status = status;
    r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return r;
}

HttpResponse rest_detail(int status, const std::string& detail) {
    return json_response(status, {{"detail", detail}});
}
HttpResponse rest_message(int status, const std::string& message) {
    return json_response(status, {{"message", message}});
}
HttpResponse redirect(const std::string& location) {
    HttpResponse r;
    r.status = 302;
    r.content_type = "text/html; charset=utf-8";
    r.headers.emplace_back("Location", location);
    return r;
}

HttpResponse attachment(std::string body, const std::string& content_type, const std::string& filename) {
    HttpResponse r;
    r.content_type = content_type;
    r.body = std::move(body);
    r.headers.emplace_back("Content-Disposition", "attachment; filename=" + filename);
    return r;
}

HttpResponse internal_error(int status, const std::string& error) {
    return json_response(status, {{"error", error}});
}

App::App(ServerSettings settings, db::Pool& pool, common::async::BlockingPool& blocking)
    : settings_(std::move(settings)), pool_(pool), blocking_(blocking),
      metrics_(std::make_unique<common::metrics::Registry>()),
      events_(std::make_unique<EventPublisher>(settings_.web.event_socket, settings_.web.event_topic)),
      cache_(std::make_unique<ResponseCache>(std::chrono::milliseconds(settings_.web.response_cache_ms), 4096)) {
    requests_ = &metrics_->counter("lava_http_requests_total", "HTTP requests answered, by route, method and status",
                                   {"route", "method", "status"});
    latency_ = &metrics_->histogram("lava_http_request_duration_seconds", "Time to answer an HTTP request, by route",
                                    {"route"}, common::metrics::latency_buckets());
    events_->instrument(*metrics_);
    devices_ = std::make_unique<common::device::DeviceConfig>(common::device::Paths{
        settings_.web.dispatcher_config, split(settings_.web.device_template_dirs, ':', false)});
    const auto extra = split(settings_.web.extra_context_variables, ',', false);
    strict_ = std::make_unique<common::job::JobValidator>(common::job::Strictness::kStrict, extra);
    lenient_ = std::make_unique<common::job::JobValidator>(common::job::Strictness::kLenient, extra);
    validator_ = settings_.web.strict_submission ? strict_.get() : lenient_.get();
    add_system_routes(*this);
    add_job_routes(*this);
    add_worker_routes(*this);
    add_result_routes(*this);
    add_lab_routes(*this);
    add_account_routes(*this);
    add_xmlrpc_routes(*this);
    ui::add_routes(*this);
}

App::~App() = default;

void App::route(std::string method, std::string pattern, Handler handler, Access access,
                Credentials credentials) {
    router_.add(std::move(method), std::move(pattern), Route{std::move(handler), access, credentials});
}

// GCC 12 pairs the frame of a coroutine awaited by another coroutine with
// the wrong operator delete in its -Wmismatched-new-delete analysis (GCC
// PR 109224, fixed in GCC 13); Asio allocates and frees the frames itself.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
boost::asio::awaitable<HttpResponse> App::handle(HttpRequest request) {
    const auto started = std::chrono::steady_clock::now();
    auto match = router_.match(request.method, to_valid_utf8(request.path));
    // A label per route pattern, never per path: the series stay bounded.
    std::string route = match.pattern ? *match.pattern : "unmatched";
    if (!match.pattern) {
        for (const char* own : {"/metrics", "/healthz", "/readyz", "/api/v0.2/system/version/"}) {
            if (request.path == own) route = own;
        }
    }
    std::string method = request.method;
    auto answering = answer(std::move(request), std::move(match));  // named: see the GCC 12 note below
    HttpResponse response = co_await std::move(answering);
    requests_->with({route, std::move(method), std::to_string(response.status)}).inc();
    latency_->with({std::move(route)})
        .observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    co_return response;
}

std::optional<std::string> App::ready_problem() { return store::readiness_problem(pool_, "lava-server"); }

boost::asio::awaitable<HttpResponse> App::answer(HttpRequest request, RouteMatch match) {
    // Answers without the database: `system/version/` (LAVA clients poll
    // it), liveness and metrics; readiness asks the database itself.
    if (request.method == "GET" || request.method == "HEAD") {
        if (request.path == "/api/v0.2/system/version/" || request.path == "/api/v0.2/system/version") {
            co_return json_response(200, {{"version", LAVA_PROTOCOL_VERSION}});
        }
        if (request.path == "/healthz") co_return common::net::healthz_answer();
        if (request.path == "/metrics" || request.path == "/readyz") {
            auto probe = [this, metrics = request.path == "/metrics"] {
                return metrics ? common::net::metrics_answer(*metrics_) : common::net::readyz_answer(ready_problem());
            };
            HttpResponse probed = co_await common::async::run_blocking(blocking_, std::move(probe));
            co_return probed;
        }
    }
    const bool cacheable = cache_->enabled() && ResponseCache::cacheable(request);
    if (cacheable) {
        if (auto hit = cache_->find(request)) co_return std::move(*hit);
    } else if (ResponseCache::is_write(request)) {
        cache_->invalidate();  // before the write runs: nothing cached from now on reflects the old state
    }
    const std::uint64_t generation = cache_->generation();
    // GCC 12 may relocate non-trivial temporaries of a co_await expression
    // bitwise (breaking std::string's small buffer): name the work first and
    // let it hold the request through a pointer.
    auto shared = std::make_shared<const HttpRequest>(std::move(request));
    auto work = [this, shared, match = std::move(match), cacheable, generation] {
        HttpResponse r = handle_matched(*shared, match);
        if (cacheable) {
            cache_->store(*shared, r, generation);
        } else if (ResponseCache::is_write(*shared)) {
            cache_->invalidate();  // and after it committed
        }
        return r;
    };
    HttpResponse response = co_await common::async::run_blocking(blocking_, std::move(work));
    co_return response;
}
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic pop
#endif

HttpResponse App::handle_sync(const HttpRequest& request) {
    return handle_matched(request, router_.match(request.method, to_valid_utf8(request.path)));
}

HttpResponse App::handle_matched(const HttpRequest& request, const RouteMatch& match) {
    try {
        return dispatch(request, match);
    } catch (const pqxx::broken_connection& e) {
        common::log::get("http")->error("request {}: database unavailable: {}", request.id,
                                        db::first_line(e.what()));
        return internal_error(503, "Database unavailable");
    } catch (const pqxx::sql_error& e) {
        // The statement text, never its parameters (they may hold secrets).
        common::log::get("http")->error("request {} {} {}: {} in: {}", request.id, request.method, request.target,
                                        db::first_line(e.what()), e.query());
        return internal_error(500, "Internal server error");
    } catch (const std::exception& e) {
        common::log::get("http")->error("request {} {} {}: {}", request.id, request.method,
                                        request.target, e.what());
        return internal_error(500, "Internal server error");
    }
}

HttpResponse App::dispatch(const HttpRequest& request, const RouteMatch& match) {
    if (!match.handler) {
        if (match.path_known) {
            return rest_detail(405, "Method \"" + request.method + "\" not allowed.");
        }
        return rest_detail(404, "Not found.");
    }
    // A JSON body past the input limits is refused before any handler parses it.
    if (request.header("content-type").find("application/json") != std::string_view::npos) {
        if (auto problem = proto::json_limits_problem(request.body)) {
            return rest_detail(400, "JSON parse error - " + *problem);
        }
    }
    std::vector<PendingEvent> events;
    std::vector<std::function<void()>> after;
    bool keep = false;
    bool discard = false;
    const auto committed = [&](const HttpResponse& r) { return (r.status < 400 || keep) && !discard; };
    // Nothing an unsuccessful request wrote is kept (unless it says so).
    HttpResponse response = db::transact_when(
        pool_,
        [&](db::Tx& tx) {
            auto auth = authenticate(tx, request, match.handler->credentials);
            if (auth.denied) return std::move(*auth.denied);
            Call call{request, match.params, tx, Identity{std::move(auth.user)}, *this, {}};
            if (auto denied = authorize(call, match.handler->access)) return *denied;
            HttpResponse r = match.handler->handler(call);
            events = std::move(call.events);
            after = std::move(call.on_commit);
            keep = call.keep_changes;
            discard = call.discard_changes;
            return r;
        },
        committed);
    if (committed(response)) {
        publish(events);
        for (const auto& f : after) f();
    }
    return response;
}

void App::publish(const std::vector<PendingEvent>& events) {
    if (!events.empty()) events_->publish(events);
}

}  // namespace lava::server::web
