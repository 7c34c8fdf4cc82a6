#pragma once
// lava-server's request handling: the routing table, authentication, one
// database transaction per request (committed only when the response is a
// success; events are published after the commit), and the error shapes of
// each API family. Handlers are plain functions run on the blocking pool; the
// I/O threads only read and write HTTP. An App is shared by all threads.

#include "common/async/blocking.hpp"
#include "common/db/pool.hpp"
#include "common/device/device.hpp"
#include "common/job/validate.hpp"
#include "common/metrics/metrics.hpp"
#include "common/net/http.hpp"
#include "server/events/events.hpp"
#include "server/store/users.hpp"
#include "server/web/auth.hpp"
#include "server/web/router.hpp"
#include "server/web/settings.hpp"

#include <nlohmann/json_fwd.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lava::server::web {

using common::net::HttpRequest;
using common::net::HttpResponse;

// Who is calling: anonymous, or a user.
struct Identity {
    std::optional<store::Principal> user;
    bool authenticated() const { return user.has_value(); }
    bool superuser() const { return user && user->is_superuser; }
};

using events::EventPublisher;
using events::PendingEvent;

class App;
class ResponseCache;

// One request, as a handler sees it.
struct Call {
    const HttpRequest& request;
    const Params& params;
    common::db::Tx& tx;
    Identity who;
    App& app;
    std::vector<PendingEvent> events;  // published after commit
    // Commit (and publish) even though the response is an error.
    bool keep_changes = false;
    // Roll back even though the response is a success (an XML-RPC fault
    // travels in a 200 response).
    bool discard_changes = false;
    // Run once the transaction committed (metrics of what it did).
    std::vector<std::function<void()>> on_commit = {};

    // A query-string parameter (decoded), or nullopt.
    std::optional<std::string> query(const std::string& name) const;
    // Every query-string parameter, in order.
    std::vector<std::pair<std::string, std::string>> query_params() const;
    // A field of a form-encoded or JSON body, or nullopt.
    std::optional<std::string> field(const std::string& name) const;
    // The form body's fields, decoded once (a log batch is hundreds of kilobytes).
    const std::vector<std::pair<std::string, std::string>>& form() const;

    mutable std::optional<std::vector<std::pair<std::string, std::string>>> form_cache = {};
};

using Handler = std::function<HttpResponse(Call&)>;

// Who may call a route (DRF's permission classes, as LAVA sets them).
enum class Access {
    kReadAnonymous,  // IsAuthenticatedOrReadOnly: GET for all, other methods for users
    kAnyone,         // AllowAny (validate APIs, token/, the worker API's own auth)
    kUser,           // login required even to read
    kSuperuser,
};

// The path parameter `name` as a row id (parse_id), or nullopt.
std::optional<std::int64_t> id_param(const Call& call, const std::string& name = "id");

// Response helpers for each API family.
HttpResponse json_response(int status, const nlohmann::json& body);
HttpResponse rest_detail(int status, const std::string& detail);    // {"detail": ...} (DRF)
HttpResponse rest_message(int status, const std::string& message);  // {"message": ...}
HttpResponse internal_error(int status, const std::string& error);  // {"error": ...} (worker API)
// 302 to `location` (a path on this site).
HttpResponse redirect(const std::string& location);
// A file download: Content-Type and Content-Disposition: attachment; filename=...
HttpResponse attachment(std::string body, const std::string& content_type, const std::string& filename);

class App {
public:
    App(ServerSettings settings, common::db::Pool& pool, common::async::BlockingPool& blocking);
    ~App();

    boost::asio::awaitable<HttpResponse> handle(HttpRequest request);
    // The same, synchronously (tests and the blocking pool).
    HttpResponse handle_sync(const HttpRequest& request);

    const ServerSettings& settings() const { return settings_; }
    // lava-server's metrics (GET /metrics): HTTP requests, jobs, events;
    // serve() adds the process and the database pool.
    common::metrics::Registry& metrics() { return *metrics_; }
    // GET /readyz's check: nullopt when the database answers and its
    // schema is the one this build expects.
    std::optional<std::string> ready_problem();
    const common::device::DeviceConfig& devices() const { return *devices_; }
    // The validator submissions use (settings: strict_submission).
    const common::job::JobValidator& validator() const { return *validator_; }
    // LAVA's validate APIs choose the mode per call.
    const common::job::JobValidator& validator(common::job::Strictness s) const {
        return s == common::job::Strictness::kStrict ? *strict_ : *lenient_;
    }

    // The sign-in page (the web UI draws it; without one, a plain form).
    using LoginPage = std::function<HttpResponse(Call&, const std::string& next, const std::string& error,
                                                 const std::string& csrf_token)>;
    void set_login_page(LoginPage page) { login_page_ = std::move(page); }
    const LoginPage& login_page() const { return login_page_; }

    // Routes of one API family; each family's file adds its own.
    void route(std::string method, std::string pattern, Handler handler,
               Access access = Access::kReadAnonymous, Credentials credentials = Credentials::kRest);

private:
    struct Route {
        Handler handler;
        Access access;
        Credentials credentials;
    };
    using RouteMatch = Router<Route>::Match;

    // The request's route is matched once, in handle() (its metrics label),
    // and carried to dispatch().
    boost::asio::awaitable<HttpResponse> answer(HttpRequest request, RouteMatch match);
    HttpResponse handle_matched(const HttpRequest& request, const RouteMatch& match);
    HttpResponse dispatch(const HttpRequest& request, const RouteMatch& match);
    void publish(const std::vector<PendingEvent>& events);

    ServerSettings settings_;
    common::db::Pool& pool_;
    common::async::BlockingPool& blocking_;
    std::unique_ptr<common::device::DeviceConfig> devices_;
    std::unique_ptr<common::job::JobValidator> strict_;
    std::unique_ptr<common::job::JobValidator> lenient_;
    const common::job::JobValidator* validator_ = nullptr;
    Router<Route> router_;
    std::unique_ptr<common::metrics::Registry> metrics_;
    common::metrics::Family<common::metrics::Counter>* requests_ = nullptr;
    common::metrics::Family<common::metrics::Histogram>* latency_ = nullptr;
    std::unique_ptr<EventPublisher> events_;
    std::unique_ptr<ResponseCache> cache_;
    LoginPage login_page_;
};

// LimitOffset pagination (?limit=&offset=, default 50) and its envelope
// {"count", "next", "previous", "results"} with DRF's links.
struct Page {
    long limit = 50;
    long offset = 0;
};
Page limit_offset(const Call& call);
nlohmann::json paginated(const Call& call, const Page& page, long count, nlohmann::json results);
// "http://<Host>" + path: an absolute link as DRF writes them.
std::string absolute_url(const Call& call, const std::string& path);

// PageNumber pagination (?page=N, 50 a page) for jobs/<id>/suites/ and
// tests/: the page, or nullopt for an invalid one (DRF: 404 "Invalid page.").
std::optional<long> page_number(const Call& call, long count, long page_size = 50);
nlohmann::json paginated_pages(const Call& call, long page, long page_size, long count, nlohmann::json results);

// The route families (each in its own file).
void add_system_routes(App& app);
void add_job_routes(App& app);
void add_worker_routes(App& app);
void add_result_routes(App& app);
void add_lab_routes(App& app);
void add_account_routes(App& app);  // /accounts/login/, /accounts/logout/ (auth.cpp)
void add_xmlrpc_routes(App& app);   // /RPC2 (rpc.cpp)

}  // namespace lava::server::web
