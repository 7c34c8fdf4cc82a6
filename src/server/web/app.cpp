#include "server/web/app.hpp"

#include "common/log/log.hpp"

#include <nlohmann/json.hpp>

namespace lava::server::web {
namespace {

namespace db = common::db;

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size()) {
        std::size_t end = s.find(sep, start);
        if (end == std::string::npos) end = s.size();
        if (end > start) out.push_back(s.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

// Authorization: Token <secret> (REST). DRF's messages on failure.
std::optional<HttpResponse> authenticate(Call& call) {
    const auto header = call.request.header("authorization");
    if (header.empty()) return std::nullopt;
    const auto space = header.find(' ');
    const std::string scheme(header.substr(0, space));
    if (scheme != "Token" && scheme != "token") return std::nullopt;  // other schemes: anonymous here
    const std::string secret = space == std::string_view::npos ? "" : std::string(header.substr(space + 1));
    if (secret.empty() || secret.find(' ') != std::string::npos) {
        return rest_detail(401, "Invalid token header. No credentials provided.");
    }
    auto owner = store::TokenRepository(call.tx).owner(secret);
    if (!owner) return rest_detail(401, "Invalid token.");
    if (!owner->is_active) return rest_detail(401, "User inactive or deleted.");
    call.who.user = std::move(*owner);
    return std::nullopt;
}

}  // namespace

// Pushes events to lava-publisher's input socket (added with the events step).
struct App::EventSink {
    void publish(const std::vector<PendingEvent>&) {}
};

std::optional<std::string> Call::query(const std::string& name) const {
    for (const auto& [k, v] : common::net::parse_form(request.query)) {
        if (k == name) return v;
    }
    return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> Call::query_params() const {
    return common::net::parse_form(request.query);
}

std::optional<std::string> Call::field(const std::string& name) const {
    const auto type = request.header("content-type");
    if (type.find("application/json") != std::string_view::npos) {
        const auto body = nlohmann::json::parse(request.body, nullptr, false);
        if (!body.is_object() || !body.contains(name)) return std::nullopt;
        const auto& v = body[name];
        if (v.is_string()) return v.get<std::string>();
        if (v.is_null()) return std::nullopt;
        return v.dump();
    }
    for (const auto& [k, v] : common::net::parse_form(request.body)) {
        if (k == name) return v;
    }
    return std::nullopt;
}

HttpResponse json_response(int status, const nlohmann::json& body) {
    HttpResponse r;
    r.status = status;
    r.body = body.dump();
    return r;
}

HttpResponse rest_detail(int status, const std::string& detail) {
    return json_response(status, {{"detail", detail}});
}
HttpResponse rest_message(int status, const std::string& message) {
    return json_response(status, {{"message", message}});
}
HttpResponse internal_error(int status, const std::string& error) {
    return json_response(status, {{"error", error}});
}

App::App(ServerSettings settings, db::Pool& pool, common::async::BlockingPool& blocking)
    : settings_(std::move(settings)), pool_(pool), blocking_(blocking), events_(std::make_unique<EventSink>()) {
    devices_ = std::make_unique<common::device::DeviceConfig>(common::device::Paths{
        settings_.web.dispatcher_config, split(settings_.web.device_template_dirs, ':')});
    validator_ = std::make_unique<common::job::JobValidator>(
        settings_.web.strict_submission ? common::job::Strictness::kStrict
                                        : common::job::Strictness::kLenient,
        split(settings_.web.extra_context_variables, ','));
    add_system_routes(*this);
}

App::~App() = default;

void App::route(std::string method, std::string pattern, Handler handler) {
    router_.add(std::move(method), std::move(pattern), std::move(handler));
}

boost::asio::awaitable<HttpResponse> App::handle(HttpRequest request) {
    // `system/version/` answers without the database (LAVA clients poll it).
    if (request.method == "GET" &&
        (request.path == "/api/v0.2/system/version/" || request.path == "/api/v0.2/system/version")) {
        co_return json_response(200, {{"version", LAVA_PROTOCOL_VERSION}});
    }
    // GCC 12 may relocate non-trivial temporaries of a co_await expression
    // bitwise (breaking std::string's small buffer): name the work first and
    // let it hold the request through a pointer.
    auto shared = std::make_shared<const HttpRequest>(std::move(request));
    auto work = [this, shared] { return handle_sync(*shared); };
    HttpResponse response = co_await common::async::run_blocking(blocking_, std::move(work));
    co_return response;
}

HttpResponse App::handle_sync(const HttpRequest& request) {
    try {
        return dispatch(request);
    } catch (const pqxx::broken_connection& e) {
        common::log::get("http")->error("request {}: database unavailable: {}", request.id,
                                        db::first_line(e.what()));
        return internal_error(503, "Database unavailable");
    } catch (const std::exception& e) {
        common::log::get("http")->error("request {} {} {}: {}", request.id, request.method,
                                        request.target, e.what());
        return internal_error(500, "Internal server error");
    }
}

HttpResponse App::dispatch(const HttpRequest& request) {
    const auto match = router_.match(request.method, request.path);
    if (!match.handler) {
        if (match.path_known) {
            return rest_detail(405, "Method \"" + request.method + "\" not allowed.");
        }
        return rest_detail(404, "Not found.");
    }
    std::vector<PendingEvent> events;
    // Nothing an unsuccessful request wrote is kept.
    HttpResponse response = db::transact_when(
        pool_,
        [&](db::Tx& tx) {
            Call call{request, match.params, tx, Identity{}, *this, {}};
            if (auto denied = authenticate(call)) return *denied;
            HttpResponse r = (*match.handler)(call);
            events = std::move(call.events);
            return r;
        },
        [](const HttpResponse& r) { return r.status < 400; });
    if (response.status < 400) publish(events);
    return response;
}

void App::publish(const std::vector<PendingEvent>& events) {
    if (!events.empty()) events_->publish(events);
}

}  // namespace lava::server::web
