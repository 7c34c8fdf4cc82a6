// The only translation unit of the HTTP server that includes Boost.Beast.

#include "common/async/spawn.hpp"
#include "common/base/notify.hpp"
#include "common/log/log.hpp"
#include "common/net/http.hpp"
#include "common/net/http_internal.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <atomic>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

namespace lava::common::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

http::response<http::string_body> to_beast(const HttpResponse& r, unsigned version, bool keep_alive,
                                           const std::string& server_name) {
    http::response<http::string_body> res{static_cast<http::status>(r.status), version};
    res.set(http::field::server, server_name);
    if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res.insert(k, v);
    res.body() = r.body;
    res.keep_alive(keep_alive);
    res.prepare_payload();
    return res;
}

HttpResponse plain_error(int status, std::string text) {
    HttpResponse r;
    r.status = status;
    r.body = "{\"error\": \"" + text + "\"}";
    return r;
}

}  // namespace

std::string_view HttpRequest::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (k == name) return v;
    }
    return {};
}

struct HttpServer::Impl {
    HttpServerOptions options;
    HttpHandler handler;
    asio::io_context ioc;
    tcp::acceptor acceptor{ioc};
    std::atomic<bool> stopping{false};
    std::atomic<std::uint64_t> next_id{1};
    std::shared_ptr<spdlog::logger> log = log::get("http");

    // Open connections, so stop() can close the idle ones.
    std::mutex mutex;
    std::list<std::shared_ptr<beast::tcp_stream>> streams;
    std::unique_ptr<asio::signal_set> signals;
    std::unique_ptr<detail::WebSockets> websockets;
    std::unique_ptr<asio::steady_timer> watchdog;  // systemd's, while serving

    asio::awaitable<void> accept_loop() {
        while (!stopping) {
            auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), asio::as_tuple(asio::use_awaitable));
            if (ec) {
                if (stopping || ec == asio::error::operation_aborted) break;
                log->warn("accept failed: {}", ec.message());
                continue;
            }
            // Responses go out whole; never hold one back waiting for an ACK (Nagle).
            boost::system::error_code ignored;
            socket.set_option(asio::ip::tcp::no_delay(true), ignored);
            auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
            asio::co_spawn(stream->get_executor(), session(stream), async::log_completion("http session"));
        }
    }

    asio::awaitable<void> session(std::shared_ptr<beast::tcp_stream> stream) {
        std::list<std::shared_ptr<beast::tcp_stream>>::iterator self;
        {
            std::lock_guard lock(mutex);
            self = streams.insert(streams.end(), stream);
        }
        struct Forget {
            Impl& impl;
            std::list<std::shared_ptr<beast::tcp_stream>>::iterator it;
            ~Forget() {
                std::lock_guard lock(impl.mutex);
                impl.streams.erase(it);
            }
        } forget{*this, self};

        beast::error_code ec;
        const auto remote = stream->socket().remote_endpoint(ec);
        const std::string remote_address = ec ? std::string() : remote.address().to_string();
        beast::flat_buffer buffer;
        bool first = true;
        while (!stopping) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(options.body_limit);
            parser.header_limit(64 * 1024);
            // A fresh connection gets the read timeout; a kept-alive one may
            // idle longer before its next request begins.
            stream->expires_after(first ? options.read_timeout : options.idle_timeout);
            auto [read_ec, n] = co_await http::async_read(*stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
            (void)n;
            first = false;
            if (read_ec) {
                if (read_ec == http::error::body_limit) {
                    co_await respond(*stream, plain_error(413, "Request body too large"), 11, false);
                } else if (read_ec != http::error::end_of_stream && read_ec != beast::error::timeout &&
                           read_ec != asio::error::operation_aborted && read_ec != asio::error::eof &&
                           read_ec != asio::error::connection_reset) {
                    co_await respond(*stream, plain_error(400, "Bad request"), 11, false);
                }
                break;
            }
            auto& req = parser.get();
            HttpRequest r;
            r.method = std::string(req.method_string());
            r.target = std::string(req.target());
            const auto q = r.target.find('?');
            r.path = url_decode(std::string_view(r.target).substr(0, q), false);
            if (q != std::string::npos) r.query = r.target.substr(q + 1);
            for (const auto& field : req) {
                r.headers.emplace_back(lower(std::string(field.name_string())), std::string(field.value()));
            }
            r.body = std::move(req.body());
            r.remote_address = remote_address;
            r.id = next_id++;
            if (options.upgrade_upstream && req.find(http::field::upgrade) != req.end()) {
                if (auto upstream = options.upgrade_upstream(r)) {
                    req.set("X-Forwarded-For", remote_address);
                    co_await relay(stream, buffer, req, *upstream, r.id);
                    co_return;
                }
            }
            if (websockets && websockets->wants(req, r)) {
                co_await websockets->serve(std::move(*stream), parser.release(), std::move(r), options.server_name);
                co_return;
            }
            const bool keep_alive = req.keep_alive();
            const unsigned version = req.version();
            const auto start = std::chrono::steady_clock::now();
            HttpResponse response;
            try {
                response = co_await handler(std::move(r));
            } catch (const std::exception& e) {
                log->error("request {} {} {}: unhandled exception: {}", r.id, r.method, r.target, e.what());
                response = plain_error(500, "Internal server error");
            }
            const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
            log->debug("request {} {} {} {} -> {} in {:.2f} ms", r.id, remote_address, req.method_string(),
                       req.target(), response.status, ms);
            stream->expires_after(options.read_timeout);
            const bool again = keep_alive && !stopping;
            if (!co_await respond(*stream, response, version, again) || !again) break;
        }
        stream->socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    // The request, what followed it, then bytes both ways until one side ends.
    asio::awaitable<void> relay(std::shared_ptr<beast::tcp_stream> client, beast::flat_buffer& buffer,
                                http::request<http::string_body>& req, const std::string& upstream, std::uint64_t id) {
        // Named locals only: GCC 12 may destroy temporaries of a co_await
        // expression twice (conditional operands especially).
        const auto colon = upstream.rfind(':');
        const std::string host = upstream.substr(0, colon);
        const std::string port = colon == std::string::npos ? std::string("80") : upstream.substr(colon + 1);
        auto server = std::make_shared<beast::tcp_stream>(client->get_executor());
        tcp::resolver resolver(client->get_executor());
        auto [rec, endpoints] = co_await resolver.async_resolve(host, port, asio::as_tuple(asio::use_awaitable));
        boost::system::error_code cec = rec;
        if (!rec) {
            server->expires_after(std::chrono::seconds(10));
            auto [ec, ep] = co_await server->async_connect(endpoints, asio::as_tuple(asio::use_awaitable));
            (void)ep;
            cec = ec;
        }
        if (cec) {
            log->warn("request {}: upstream {} unreachable: {}", id, upstream, cec.message());
            const auto unreachable = plain_error(502, "Upstream " + upstream + " is not reachable");
            co_await respond(*client, unreachable, req.version(), false);
            co_return;
        }
        server->expires_never();
        client->expires_never();
        boost::system::error_code ignored;
        server->socket().set_option(asio::ip::tcp::no_delay(true), ignored);
        auto [wec, wn] = co_await http::async_write(*server, req, asio::as_tuple(asio::use_awaitable));
        (void)wn;
        if (wec) co_return;
        if (buffer.size() > 0) {
            auto [bec, bn] = co_await asio::async_write(*server, buffer.data(), asio::as_tuple(asio::use_awaitable));
            (void)bn;
            if (bec) co_return;
            buffer.consume(buffer.size());
        }
        log->debug("request {}: relaying to {}", id, upstream);
        asio::co_spawn(client->get_executor(), pump(server, client), async::log_completion("relay"));
        co_await pump(client, server);
    }

    // One direction of a relay; ends by shutting down the other side's
    // sending (the relay ends when both directions did).
    static asio::awaitable<void> pump(std::shared_ptr<beast::tcp_stream> from, std::shared_ptr<beast::tcp_stream> to) {
        std::vector<char> block(64 * 1024);
        for (;;) {
            auto [ec, n] = co_await from->async_read_some(asio::buffer(block), asio::as_tuple(asio::use_awaitable));
            if (ec) break;
            auto [wec, wn] = co_await asio::async_write(*to, asio::buffer(block.data(), n),
                                                        asio::as_tuple(asio::use_awaitable));
            (void)wn;
            if (wec) break;
        }
        boost::system::error_code ignored;
        to->socket().shutdown(tcp::socket::shutdown_send, ignored);
        from->socket().shutdown(tcp::socket::shutdown_receive, ignored);
    }

    asio::awaitable<bool> respond(beast::tcp_stream& stream, const HttpResponse& response, unsigned version,
                                  bool keep_alive) {
        if (!response.file_path.empty()) co_return co_await respond_file(stream, response, version, keep_alive);
        auto res = to_beast(response, version, keep_alive, options.server_name);
        auto [ec, n] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
        (void)n;
        co_return !ec;
    }

    // The header, then the file range in blocks. A file that ends early (cut
    // while being sent) aborts the connection: the client sees a short body.
    asio::awaitable<bool> respond_file(beast::tcp_stream& stream, const HttpResponse& response, unsigned version,
                                       bool keep_alive) {
        const int fd = ::open(response.file_path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            log->error("cannot open {}: {}", response.file_path, std::strerror(errno));
            co_return co_await respond(stream, plain_error(500, "Internal server error"), version, false);
        }
        struct Close {
            int fd;
            ~Close() { ::close(fd); }
        } closer{fd};
        http::response<http::empty_body> res{static_cast<http::status>(response.status), version};
        res.set(http::field::server, options.server_name);
        if (!response.content_type.empty()) res.set(http::field::content_type, response.content_type);
        for (const auto& [k, v] : response.headers) res.insert(k, v);
        res.content_length(response.file_length);
        res.keep_alive(keep_alive);
        http::response_serializer<http::empty_body> sr{res};
        auto [hec, hn] = co_await http::async_write_header(stream, sr, asio::as_tuple(asio::use_awaitable));
        (void)hn;
        if (hec) co_return false;
        std::vector<char> block(256 * 1024);
        std::uint64_t sent = 0;
        while (sent < response.file_length) {
            const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), response.file_length - sent));
            const auto got = ::pread(fd, block.data(), want, static_cast<off_t>(response.file_offset + sent));
            if (got <= 0) {
                log->error("{} ended {} bytes early", response.file_path, response.file_length - sent);
                co_return false;
            }
            stream.expires_after(options.read_timeout);
            auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(block.data(), static_cast<std::size_t>(got)),
                                                         asio::as_tuple(asio::use_awaitable));
            if (wec) co_return false;
            sent += wn;
        }
        co_return true;
    }

    void stop() {
        if (stopping.exchange(true)) return;
        asio::post(ioc, [this] {
            beast::error_code ec;
            acceptor.close(ec);
            if (signals) signals->cancel(ec);
            // On the timer's strand, where its handler runs too.
            if (watchdog) asio::post(watchdog->get_executor(), [this] { watchdog->cancel(); });
            if (websockets) websockets->close_all();
            // Connections waiting for a next request are closed; one in the
            // middle of a request finishes it (its handler is running), then
            // closes. Each socket is touched only on its own strand.
            std::lock_guard lock(mutex);
            for (auto& s : streams) {
                asio::post(s->get_executor(), [s] {
                    beast::error_code ignored;
                    s->socket().cancel(ignored);
                });
            }
        });
    }
};

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler) : impl_(std::make_unique<Impl>()) {
    impl_->options = std::move(options);
    impl_->handler = std::move(handler);
    const auto address = asio::ip::make_address(impl_->options.address);
    const tcp::endpoint endpoint(address, impl_->options.port);
    impl_->acceptor.open(endpoint.protocol());
    impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
    impl_->acceptor.bind(endpoint);
    impl_->acceptor.listen(asio::socket_base::max_listen_connections);
    asio::co_spawn(impl_->ioc, impl_->accept_loop(), async::log_completion("http accept loop"));
}

HttpServer::~HttpServer() = default;

std::uint16_t HttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

asio::any_io_executor HttpServer::executor() const { return impl_->ioc.get_executor(); }

void HttpServer::run() {
    std::size_t n = impl_->options.threads ? impl_->options.threads : std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < n; ++i) threads.emplace_back([this] { impl_->ioc.run(); });
    impl_->ioc.run();
    for (auto& t : threads) t.join();
}

void HttpServer::stop() { impl_->stop(); }

void HttpServer::stop_on_signals() {
    impl_->signals = std::make_unique<asio::signal_set>(impl_->ioc, SIGTERM, SIGINT);
    impl_->signals->async_wait([this](const boost::system::error_code& ec, int signo) {
        if (ec) return;
        impl_->log->info("signal {}: finishing in-flight requests and stopping", signo);
        impl_->stop();
    });
}

void HttpServer::keep_watchdog() {
    const auto interval = notify::watchdog_interval();
    if (!interval) return;
    // A strand of its own: the handler and stop()'s cancel never race, and
    // a handler already on its way when stop() began does not re-arm it.
    impl_->watchdog = std::make_unique<asio::steady_timer>(asio::make_strand(impl_->ioc));
    struct Tick {
        asio::steady_timer* timer;
        std::chrono::milliseconds every;
        const std::atomic<bool>* stopping;
        void operator()(const boost::system::error_code& ec) const {
            if (ec || stopping->load()) return;
            notify::watchdog();
            timer->expires_after(every);
            timer->async_wait(*this);
        }
    };
    notify::watchdog();
    impl_->watchdog->expires_after(*interval);
    impl_->watchdog->async_wait(Tick{impl_->watchdog.get(), *interval, &impl_->stopping});
}

void HttpServer::serve_websockets(WebSocketOptions options) {
    impl_->websockets = std::make_unique<detail::WebSockets>(std::move(options));
}

std::size_t HttpServer::broadcast(std::shared_ptr<const std::string> text, const std::function<bool(std::uint64_t)>& to) {
    return impl_->websockets ? impl_->websockets->broadcast(text, to) : 0;
}

std::size_t HttpServer::websocket_clients() const { return impl_->websockets ? impl_->websockets->clients() : 0; }

std::uint64_t HttpServer::websocket_overflows() const {
    return impl_->websockets ? impl_->websockets->overflows() : 0;
}

}  // namespace lava::common::net
