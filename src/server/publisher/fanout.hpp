#pragma once
// lava-publisher's WebSocket side (lava-protocols.md §5.2, §5.4): who each
// client is, and which events it may receive.
//
// A client says who it is when it connects:
//  - `Authorization: Basic base64(username:token)`: a user; it receives the
//    events of the jobs, devices and workers that user may view;
//  - `LAVA-Token` + `LAVA-Host`: a worker; it receives only `testjob`
//    events whose `worker` is that worker (the jobs it runs);
//  - the web UI's `sessionid` cookie (docs/adr/0011-web-ui.md, point 7): a
//    user, as lava-server's session says, accepted only from a page of the
//    server itself (the Origin header is the request's own host, or one of
//    `ui_origins`), so another site cannot open a socket with the user's
//    cookie; checked again before deliveries, at most every ping interval:
//    a signed-out session becomes anonymous;
//  - nothing: anonymous; public objects only.
// Bad credentials get one {"error": ...} message, then the close.
// Each event is sent as one text message, the JSON array of its 5 frames.
//
// Log notices (`<topic>.log`, {"job", "lines"}: lava-server committed log
// lines) go only to clients that asked, with {"subscribe": "log", "job": N}
// ({"unsubscribe": ...} to stop), and that may view the job; they never go
// out on the ZMQ PUB socket, so LAVA's clients see LAVA's stream.

#include "common/async/blocking.hpp"
#include "common/db/pool.hpp"
#include "common/net/http.hpp"
#include "common/proto/events.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace lava::server::publisher {

class Fanout {
public:
    // Serves the server's WebSockets with `limits` (queue, pings); the pools
    // outlive the Fanout; the server must not run yet.
    // `ui_origins`: the Origin values a session cookie is accepted from
    // (empty: the request's own host, over http or https).
    Fanout(common::db::Pool& db, common::async::BlockingPool& blocking, common::net::HttpServer& server,
           common::net::WebSocketOptions limits, std::vector<std::string> ui_origins = {});
    ~Fanout();
    Fanout(const Fanout&) = delete;
    Fanout& operator=(const Fanout&) = delete;

    // Sends the event to every client allowed to see it; returns how many
    // got it. Blocks on the database (call it from the ZMQ thread).
    std::size_t deliver(const proto::Event& event);

    // The HTTP side of the WebSocket port: GET /ws/v1/healthz.
    static common::net::HttpResponse http(const common::net::HttpRequest& request);

private:
    struct Client;
    struct Audience;
    boost::asio::awaitable<std::optional<std::string>> open(std::uint64_t id, common::net::HttpRequest request);
    void closed(std::uint64_t id);
    void message(std::uint64_t id, std::string_view text);
    bool origin_allowed(const common::net::HttpRequest& request) const;
    void recheck_sessions();
    Audience audience(const proto::Event& event, const std::string& kind);

    common::db::Pool& db_;
    common::async::BlockingPool& blocking_;
    common::net::HttpServer& server_;
    std::vector<std::string> ui_origins_;
    std::chrono::milliseconds recheck_interval_;
    std::chrono::steady_clock::time_point last_recheck_;
    std::mutex mutex_;
    std::map<std::uint64_t, std::shared_ptr<const Client>> clients_;
    std::map<std::uint64_t, std::set<std::int64_t>> log_subscriptions_;  // client -> jobs
};

}  // namespace lava::server::publisher
