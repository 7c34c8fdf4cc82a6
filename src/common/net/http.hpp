#pragma once
// An HTTP/1.1 server for lava-cpp's daemons, behind an interface that does
// not expose Boost.Beast (one Beast translation unit: http_server.cpp).
// Keep-alive, a request body limit (413 past it), read and idle timeouts, N
// I/O threads on one io_context, graceful shutdown (stop accepting, finish
// in-flight requests). The handler is a coroutine; it runs on the
// connection's strand and must not block: blocking work goes through
// common/async/run_blocking.

#include "common/net/url.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lava::common::net {

struct HttpRequest {
    std::string method;  // "GET", "POST", ...
    std::string target;  // as sent: /api/v0.2/jobs/?limit=5
    std::string path;    // the target before '?', percent-decoded
    std::string query;   // the target after '?', raw
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
    std::string body;
    std::string remote_address;
    std::uint64_t id = 0;  // per-process request number, for logs

    // The first header named `name` (lower-case), or "".
    std::string_view header(std::string_view name) const;
};

struct HttpResponse {
    int status = 200;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    // Instead of `body`: bytes [file_offset, file_offset + file_length) of a
    // file, streamed in blocks (logs of any size cost the same memory).
    std::string file_path;
    std::uint64_t file_offset = 0;
    std::uint64_t file_length = 0;
};

using HttpHandler = std::function<boost::asio::awaitable<HttpResponse>(HttpRequest)>;

struct HttpServerOptions {
    std::string address = "127.0.0.1";
    std::uint16_t port = 8000;  // 0: any free port (see HttpServer::port)
    std::size_t threads = 0;    // 0: one per core
    std::size_t body_limit = 64 * 1024 * 1024;
    std::chrono::milliseconds read_timeout{std::chrono::seconds(30)};
    std::chrono::milliseconds idle_timeout{std::chrono::seconds(75)};
    std::string server_name = "lava-cpp";
    // Upgrade requests (WebSocket) for which this returns an upstream
    // "host:port" are relayed there byte for byte, both ways, until either
    // side closes (lava-server's /ws/ to lava-publisher, so clients that
    // derive the WebSocket URL from the server's find it). The upstream
    // sees the request as sent, plus X-Forwarded-For. Unreachable: 502.
    std::function<std::optional<std::string>(const HttpRequest&)> upgrade_upstream;
};

// WebSocket endpoints (lava-publisher's /ws/). A GET asking for an upgrade on
// a path `accepts` takes is handed to `open` (a coroutine; it may await
// blocking work): nullopt accepts the client; otherwise the text returned
// is sent as the one message of the connection, which then closes (how
// LAVA refuses bad credentials). Clients only receive: what they send is
// read and dropped. Each client has a bounded queue of outgoing messages; a
// client that lets it fill up is disconnected (close code 1008, a reason
// saying so) and the others never wait for it. Pings keep idle
// connections checked: a peer silent for two intervals is dropped.
// The value of cookie `name` in the request's Cookie header, or nullopt.
std::optional<std::string> request_cookie(const HttpRequest& request, std::string_view name);

struct WebSocketOptions {
    std::function<bool(std::string_view path)> accepts;
    std::function<boost::asio::awaitable<std::optional<std::string>>(std::uint64_t client, const HttpRequest&)> open;
    std::function<void(std::uint64_t client)> closed;  // after an accepted client went away
    // A text message an accepted client sent (on an I/O thread: keep it quick).
    std::function<void(std::uint64_t client, std::string_view text)> message;
    std::size_t queue_limit = 1000;                     // messages per client
    std::chrono::milliseconds ping_interval{std::chrono::seconds(30)};
};

// Owns its io_context and threads. Construct, then run() (blocks) or
// start() (returns); stop() from any thread or a signal handler thread.
class HttpServer {
public:
    HttpServer(HttpServerOptions options, HttpHandler handler);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // The bound port (useful with port 0). Valid after construction.
    std::uint16_t port() const;
    // The executor handlers and timers may use.
    boost::asio::any_io_executor executor() const;
    // Serves until stop() and every in-flight request finished.
    void run();
    // Stops accepting, lets in-flight requests finish, closes idle connections.
    void stop();
    // Also stops on SIGTERM and SIGINT (for daemons).
    void stop_on_signals();
    // Sends systemd's WATCHDOG=1 from the event loop (a timer on it) while
    // serving, when systemd asked for it (common/base/notify).
    void keep_watchdog();

    // Serves WebSockets as `options` say; call before run().
    void serve_websockets(WebSocketOptions options);
    // From any thread: queues `text` for every open WebSocket client that
    // `to` accepts (called under the server's lock: keep it quick). Returns
    // how many clients got it.
    std::size_t broadcast(std::shared_ptr<const std::string> text, const std::function<bool(std::uint64_t client)>& to);
    // Open WebSocket clients.
    std::size_t websocket_clients() const;
    // WebSocket clients disconnected so far because their queue was full.
    std::uint64_t websocket_overflows() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace lava::common::net
