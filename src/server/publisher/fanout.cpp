#include "server/publisher/fanout.hpp"

#include "common/base/base64.hpp"
#include "common/crypto/password.hpp"
#include "common/db/async.hpp"
#include "common/log/log.hpp"
#include "common/proto/json.hpp"
#include "server/store/devices.hpp"
#include "server/store/jobs.hpp"
#include "server/store/users.hpp"
#include "server/store/workers.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>
#include <vector>

namespace lava::server::publisher {

using common::net::HttpRequest;
using common::net::HttpResponse;

struct Fanout::Client {
    enum class Kind { kAnonymous, kUser, kWorker };
    Kind kind = Kind::kAnonymous;
    std::optional<store::Principal> user;  // kUser
    std::string worker;                    // kWorker: its hostname
    std::string session;                   // kUser by the sessionid cookie: the session's key
};

// Who may receive one event.
struct Fanout::Audience {
    bool everyone = false;               // a public object
    std::set<std::int64_t> users;        // besides: these users may view it
    std::optional<std::string> worker;   // a testjob event: the worker running the job
};

namespace {

std::string error_message(const std::string& text) { return nlohmann::json{{"error", text}}.dump(); }

// The topic's last component: "testjob", "device", "worker", "event".
std::string topic_kind(const std::string& topic) {
    const auto dot = topic.rfind('.');
    return dot == std::string::npos ? topic : topic.substr(dot + 1);
}

}  // namespace

Fanout::Fanout(common::db::Pool& db, common::async::BlockingPool& blocking, common::net::HttpServer& server,
               common::net::WebSocketOptions limits, std::vector<std::string> ui_origins)
    : db_(db), blocking_(blocking), server_(server), ui_origins_(std::move(ui_origins)),
      recheck_interval_(limits.ping_interval), last_recheck_(std::chrono::steady_clock::now()) {
    limits.accepts = [](std::string_view path) { return path == "/ws/" || path == "/ws"; };
    limits.open = [this](std::uint64_t id, const HttpRequest& request) { return open(id, request); };
    limits.closed = [this](std::uint64_t id) { closed(id); };
    limits.message = [this](std::uint64_t id, std::string_view text) { message(id, text); };
    server_.serve_websockets(std::move(limits));
}

Fanout::~Fanout() = default;

HttpResponse Fanout::http(const HttpRequest& request) {
    HttpResponse r;
    if (request.path == "/ws/v1/healthz" || request.path == "/ws/v1/healthz/") {
        r.body = R"({"health": "good"})";
    } else if (request.path == "/ws/" || request.path == "/ws") {
        r.status = 426;
        r.headers.emplace_back("Upgrade", "websocket");
        r.body = error_message("This is a WebSocket endpoint: connect with Upgrade: websocket");
    } else {
        r.status = 404;
        r.body = error_message("Not found");
    }
    return r;
}

boost::asio::awaitable<std::optional<std::string>> Fanout::open(std::uint64_t id, HttpRequest request) {
    auto log = common::log::get("lava-publisher");
    auto client = std::make_shared<Client>();
    const bool has_auth = std::any_of(request.headers.begin(), request.headers.end(),
                                      [](const auto& h) { return h.first == "authorization"; });
    const std::string host(request.header("lava-host"));
    const std::string worker_token(request.header("lava-token"));
    if (has_auth) {
        const auto header = request.header("authorization");
        const auto space = header.find(' ');
        if (space == std::string_view::npos || header.substr(0, space) != "Basic") {
            co_return error_message("Unsupported Authorization header: only Basic username:token is supported");
        }
        const auto decoded = base64_decode(header.substr(space + 1));
        const auto colon = decoded ? decoded->find(':') : std::string::npos;
        if (!decoded || colon == std::string::npos) {
            co_return error_message("Corrupted Authorization header: expected base64 of username:token");
        }
        const std::string username = decoded->substr(0, colon);
        const std::string secret = decoded->substr(colon + 1);
        auto owner = co_await common::db::transact_async(blocking_, db_, [&](common::db::Tx& tx) {
            return store::TokenRepository(tx).owner(username, secret);
        });
        if (!owner || !owner->is_active) co_return error_message("Invalid token for user '" + username + "'");
        client->kind = Client::Kind::kUser;
        client->user = std::move(owner);
    } else if (!host.empty() || !worker_token.empty()) {
        if (host.empty() || worker_token.empty()) {
            co_return error_message("A worker sends both LAVA-Host and LAVA-Token");
        }
        const bool valid = co_await common::db::transact_async(blocking_, db_, [&](common::db::Tx& tx) {
            auto w = store::WorkerRepository(tx).get(host);
            return w && common::crypto::constant_time_equal(w->token, worker_token);
        });
        if (!valid) co_return error_message("Invalid token for worker '" + host + "'");
        client->kind = Client::Kind::kWorker;
        client->worker = host;
    } else if (const auto key = common::net::request_cookie(request, "sessionid"); key && !key->empty()) {
        if (!origin_allowed(request)) {
            co_return error_message("A session cookie is accepted only from this server's own pages (Origin '" +
                                    std::string(request.header("origin")) + "')");
        }
        auto found = co_await common::db::transact_async(blocking_, db_, [&](common::db::Tx& tx) {
            return store::SessionRepository(tx).find(*key);
        });
        // An expired or signed-out session is anonymous, as lava-server treats it.
        if (found) {
            client->kind = Client::Kind::kUser;
            client->user = std::move(found->user);
            client->session = *key;
        }
    }
    log->info("websocket {} from {}: {}", id, request.remote_address,
              client->kind == Client::Kind::kUser     ? "user " + client->user->username
              : client->kind == Client::Kind::kWorker ? "worker " + client->worker
                                                      : std::string("anonymous"));
    std::lock_guard lock(mutex_);
    clients_.emplace(id, std::move(client));
    co_return std::nullopt;
}

void Fanout::closed(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    clients_.erase(id);
    log_subscriptions_.erase(id);
}

bool Fanout::origin_allowed(const HttpRequest& request) const {
    const std::string origin(request.header("origin"));
    if (origin.empty()) return true;  // not a browser: no other site's page can be behind it
    if (!ui_origins_.empty()) return std::find(ui_origins_.begin(), ui_origins_.end(), origin) != ui_origins_.end();
    const std::string host(request.header("host"));
    return !host.empty() && (origin == "http://" + host || origin == "https://" + host);
}

// {"subscribe": "log", "job": N} / {"unsubscribe": "log", "job": N}; anything
// else is ignored (LAVA's clients send nothing).
void Fanout::message(std::uint64_t id, std::string_view text) {
    constexpr std::size_t kMaxSubscriptions = 64;
    const auto request = proto::parse_json(text);
    if (!request.is_object()) return;
    const auto job = request.find("job");
    if (job == request.end() || !job->is_number_integer()) return;
    const bool subscribe = request.value("subscribe", "") == "log";
    const bool unsubscribe = request.value("unsubscribe", "") == "log";
    std::lock_guard lock(mutex_);
    if (!clients_.count(id)) return;
    auto& jobs = log_subscriptions_[id];
    if (subscribe && jobs.size() < kMaxSubscriptions) jobs.insert(job->get<std::int64_t>());
    if (unsubscribe) jobs.erase(job->get<std::int64_t>());
}

// Sessions signed out or expired since their client connected lose their
// user (at most one check per interval, before a delivery).
void Fanout::recheck_sessions() {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_recheck_ < recheck_interval_) return;
    last_recheck_ = now;
    std::vector<std::pair<std::uint64_t, std::string>> sessions;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, c] : clients_) {
            if (!c->session.empty()) sessions.emplace_back(id, c->session);
        }
    }
    if (sessions.empty()) return;
    std::vector<std::uint64_t> ended;
    try {
        common::db::transact(db_, [&](common::db::Tx& tx) {
            store::SessionRepository repo(tx);
            for (const auto& [id, key] : sessions) {
                if (!repo.find(key)) ended.push_back(id);
            }
        });
    } catch (const std::exception& e) {
        common::log::get("lava-publisher")->warn("sessions not checked: {}", common::db::first_line(e.what()));
        return;
    }
    std::lock_guard lock(mutex_);
    for (const auto id : ended) {
        if (auto it = clients_.find(id); it != clients_.end()) it->second = std::make_shared<const Client>();
    }
}

Fanout::Audience Fanout::audience(const proto::Event& event, const std::string& kind) {
    Audience out;
    const auto payload = proto::parse_json(event.payload);
    if (!payload.is_object()) return out;  // superusers only
    if (kind == "testjob") {
        const auto w = payload.find("worker");
        if (w != payload.end() && w->is_string()) out.worker = w->get<std::string>();
    }
    if (kind != "testjob" && kind != "event" && kind != "device" && kind != "log") {
        out.everyone = true;  // workers (and anything else) are public in LAVA
        return out;
    }
    // The users connected now whose view depends on the object.
    std::vector<store::Principal> viewers;
    bool anonymous = false;
    {
        std::lock_guard lock(mutex_);
        std::set<std::int64_t> seen;
        for (const auto& [id, c] : clients_) {
            if (c->kind == Client::Kind::kAnonymous) anonymous = true;
            if (c->kind != Client::Kind::kUser || c->user->is_superuser) continue;
            if (seen.insert(c->user->id).second) viewers.push_back(*c->user);
        }
    }
    if (!anonymous && viewers.empty()) return out;
    try {
        common::db::transact(db_, [&](common::db::Tx& tx) {
            if (kind == "device") {
                const auto d = payload.find("device");
                if (d == payload.end() || !d->is_string()) return;
                const auto hostname = d->get<std::string>();
                store::DeviceRepository devices(tx);
                auto sees = [&](const store::Viewer& v) {
                    const auto visible = devices.visible(v);
                    return std::find(visible.begin(), visible.end(), hostname) != visible.end();
                };
                out.everyone = sees(std::nullopt);
                if (out.everyone) return;
                for (const auto& v : viewers) {
                    if (sees(v)) out.users.insert(v.id);
                }
                return;
            }
            const auto j = payload.find("job");
            if (j == payload.end() || !j->is_number_integer()) return;
            const auto job = j->get<std::int64_t>();
            store::JobRepository jobs(tx);
            out.everyone = jobs.is_public(job).value_or(false);
            if (out.everyone) return;
            for (const auto& v : viewers) {
                if (jobs.get_visible(job, v)) out.users.insert(v.id);
            }
        });
    } catch (const std::exception& e) {
        // Without the database nobody but superusers and the job's worker
        // can be shown to be allowed: the event goes to them only.
        common::log::get("lava-publisher")->warn("event {}: visibility unknown: {}", event.topic,
                                                 common::db::first_line(e.what()));
    }
    return out;
}

std::size_t Fanout::deliver(const proto::Event& event) {
    const auto kind = topic_kind(event.topic);
    // A log notice: to the clients that asked for this job's (one per log
    // upload: when nobody asked, no visibility query is made).
    std::optional<std::int64_t> log_job;
    if (kind == "log") {
        const auto notice = proto::parse_log_notice(proto::parse_json(event.payload));
        if (!notice) return 0;
        log_job = notice->job;
    }
    {
        std::lock_guard lock(mutex_);
        if (clients_.empty()) return 0;
        if (log_job && std::none_of(log_subscriptions_.begin(), log_subscriptions_.end(),
                                    [&](const auto& subs) { return subs.second.count(*log_job) > 0; })) {
            return 0;
        }
    }
    recheck_sessions();
    const auto who = audience(event, kind);
    const auto text = std::make_shared<const std::string>(proto::to_websocket_text(event));
    std::lock_guard lock(mutex_);
    return server_.broadcast(text, [&](std::uint64_t id) {
        const auto it = clients_.find(id);
        if (it == clients_.end()) return false;  // still authenticating
        const Client& c = *it->second;
        if (log_job) {
            const auto subs = log_subscriptions_.find(id);
            if (subs == log_subscriptions_.end() || !subs->second.count(*log_job)) return false;
            if (c.kind == Client::Kind::kWorker) return false;
        }
        switch (c.kind) {
        case Client::Kind::kWorker: return kind == "testjob" && who.worker && *who.worker == c.worker;
        case Client::Kind::kUser: return who.everyone || c.user->is_superuser || who.users.count(c.user->id) > 0;
        case Client::Kind::kAnonymous: return who.everyone;
        }
        return false;
    });
}

}  // namespace lava::server::publisher
