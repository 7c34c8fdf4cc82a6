// The only translation unit that includes Boost.Beast's WebSocket stream:
// server-side WebSocket clients of HttpServer (see http.hpp).

#include "common/async/spawn.hpp"
#include "common/base/limits.hpp"
#include "common/log/log.hpp"
#include "common/net/http_internal.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <deque>
#include <mutex>
#include <unordered_map>

namespace lava::common::net::detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// One accepted client. Messages are queued from any thread (push); a writer
// coroutine on the connection's strand sends them in order; a reader
// coroutine takes what the client sends (pongs, close, dropped messages).
class Client : public std::enable_shared_from_this<Client> {
public:
    Client(beast::tcp_stream&& stream, std::uint64_t id, std::size_t limit)
        : ws_(std::move(stream)), id_(id), limit_(limit), wake_(ws_.get_executor()), deadline_(ws_.get_executor()) {}

    websocket::stream<beast::tcp_stream>& ws() { return ws_; }
    std::uint64_t id() const { return id_; }

    enum class Pushed { kQueued, kClosed, kOverflow };

    // Queues a message, unless the client is closing (or now is: its queue was full).
    Pushed push(const std::shared_ptr<const std::string>& text) {
        std::lock_guard lock(mutex_);
        if (done_) return Pushed::kClosed;
        if (queue_.size() >= limit_) {
            end_locked(websocket::close_code::policy_error,
                       "too slow: " + std::to_string(limit_) + " messages waiting; reconnect");
            return Pushed::kOverflow;
        }
        queue_.push_back(text);
        wake_locked();
        return Pushed::kQueued;
    }

    // No more messages: the writer closes the connection with this code and reason.
    void end(websocket::close_code code, std::string reason) {
        std::lock_guard lock(mutex_);
        end_locked(code, std::move(reason));
    }

    // Sends queued messages until the client is ended; then the close.
    asio::awaitable<void> write_loop() {
        for (;;) {
            std::shared_ptr<const std::string> next;
            {
                std::lock_guard lock(mutex_);
                if (done_) break;
                if (!queue_.empty()) {
                    next = std::move(queue_.front());
                    queue_.pop_front();
                } else {
                    waiting_ = true;
                }
            }
            if (!next) {
                // push() cancels this wait (posted to our strand, so it
                // cannot run before the wait starts).
                wake_.expires_at(asio::steady_timer::time_point::max());
                (void)co_await wake_.async_wait(kTuple);
                continue;
            }
            auto [ec, n] = co_await ws_.async_write(asio::buffer(*next), kTuple);
            (void)n;
            if (ec) {
                end(websocket::close_code::none, {});
                break;
            }
        }
        websocket::close_code code;
        std::string reason;
        {
            std::lock_guard lock(mutex_);
            code = close_code_;
            reason = close_reason_;
        }
        if (code != websocket::close_code::none && ws_.is_open()) {
            (void)co_await ws_.async_close(websocket::close_reason(code, reason), kTuple);
        }
        finished_ = true;
        deadline_.cancel();
        beast::error_code ignored;
        beast::get_lowest_layer(ws_).socket().close(ignored);
    }

    // Reads until the connection ends, handing text messages to `message`;
    // then ends the writer.
    asio::awaitable<void> read_loop(std::function<void(std::uint64_t, std::string_view)> message) {
        beast::flat_buffer buffer;
        for (;;) {
            auto [ec, n] = co_await ws_.async_read(buffer, kTuple);
            (void)n;
            if (ec) break;
            if (message && ws_.got_text()) {
                const auto data = buffer.data();
                message(id_, std::string_view(static_cast<const char*>(data.data()), data.size()));
            }
            buffer.consume(buffer.size());
        }
        end(websocket::close_code::none, {});
    }

private:
    void end_locked(websocket::close_code code, std::string reason) {
        if (done_) return;
        done_ = true;
        queue_.clear();
        close_code_ = code;
        close_reason_ = std::move(reason);
        // A writer stuck on a client that reads nothing cannot send the
        // close: the socket goes after a grace period.
        asio::post(ws_.get_executor(), [self = shared_from_this()] {
            self->wake_.cancel();
            if (self->finished_) return;
            self->deadline_.expires_after(std::chrono::seconds(5));
            self->deadline_.async_wait([self](const boost::system::error_code& ec) {
                if (ec) return;
                beast::error_code ignored;
                beast::get_lowest_layer(self->ws_).socket().close(ignored);
            });
        });
    }

    void wake_locked() {
        if (!waiting_) return;
        waiting_ = false;
        asio::post(ws_.get_executor(), [self = shared_from_this()] { self->wake_.cancel(); });
    }

    websocket::stream<beast::tcp_stream> ws_;
    const std::uint64_t id_;
    const std::size_t limit_;
    asio::steady_timer wake_;
    asio::steady_timer deadline_;

    std::mutex mutex_;
    std::deque<std::shared_ptr<const std::string>> queue_;
    bool waiting_ = false;  // the writer waits for wake_
    bool finished_ = false; // the writer is done (strand only)
    bool done_ = false;
    websocket::close_code close_code_ = websocket::close_code::none;
    std::string close_reason_;
};

}  // namespace

struct WebSockets::Impl {
    WebSocketOptions options;
    std::shared_ptr<spdlog::logger> log = log::get("websocket");
    mutable std::mutex mutex;
    std::unordered_map<std::uint64_t, std::shared_ptr<Client>> clients;
    std::uint64_t next_id = 1;
    std::uint64_t overflows = 0;
    bool closing = false;
};

WebSockets::WebSockets(WebSocketOptions options) : impl_(std::make_unique<Impl>()) {
    impl_->options = std::move(options);
}

WebSockets::~WebSockets() = default;

bool WebSockets::wants(const http::request<http::string_body>& req, const HttpRequest& r) const {
    return websocket::is_upgrade(req) && impl_->options.accepts && impl_->options.accepts(r.path);
}

asio::awaitable<void> WebSockets::serve(beast::tcp_stream stream, http::request<http::string_body> req, HttpRequest r,
                                        std::string server_name) {
    auto& impl = *impl_;
    std::uint64_t id;
    {
        std::lock_guard lock(impl.mutex);
        if (impl.closing) co_return;
        id = impl.next_id++;
    }
    // Beast's WebSocket timeouts replace the TCP stream's.
    stream.expires_never();
    auto client = std::make_shared<Client>(std::move(stream), id, impl.options.queue_limit);
    auto& ws = client->ws();
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = std::chrono::seconds(10);
    timeout.idle_timeout = impl.options.ping_interval * 2;  // a ping after half of it
    timeout.keep_alive_pings = true;
    ws.set_option(timeout);
    ws.set_option(websocket::stream_base::decorator(
        [server_name](websocket::response_type& res) { res.set(http::field::server, server_name); }));
    ws.read_message_max(static_cast<std::size_t>(input_limits().websocket_max_message_bytes));

    std::optional<std::string> refusal;
    try {
        refusal = co_await impl.options.open(id, r);
    } catch (const std::exception& e) {
        impl.log->error("websocket {} from {}: {}", id, r.remote_address, e.what());
        refusal = R"({"error": "Internal server error"})";
    }
    auto [ec] = co_await ws.async_accept(req, kTuple);
    if (ec) {
        if (!refusal && impl.options.closed) impl.options.closed(id);
        co_return;
    }
    if (refusal) {
        ws.text(true);
        auto [wec, n] = co_await ws.async_write(asio::buffer(*refusal), kTuple);
        (void)n;
        if (!wec) (void)co_await ws.async_close(websocket::close_reason(websocket::close_code::policy_error), kTuple);
        co_return;
    }
    ws.text(true);
    {
        std::lock_guard lock(impl.mutex);
        impl.clients.emplace(id, client);
        if (impl.closing) client->end(websocket::close_code::going_away, "server shutting down");
    }
    impl.log->debug("websocket {} open from {}", id, r.remote_address);
    asio::co_spawn(ws.get_executor(), [client, message = impl.options.message]() { return client->read_loop(message); },
                   async::log_completion("websocket reader"));
    co_await client->write_loop();
    {
        std::lock_guard lock(impl.mutex);
        impl.clients.erase(id);
    }
    if (impl.options.closed) impl.options.closed(id);
    impl.log->debug("websocket {} closed", id);
}

std::size_t WebSockets::broadcast(const std::shared_ptr<const std::string>& text,
                                  const std::function<bool(std::uint64_t)>& to) {
    std::size_t sent = 0;
    std::lock_guard lock(impl_->mutex);
    for (const auto& [id, client] : impl_->clients) {
        if (!to(id)) continue;
        switch (client->push(text)) {
        case Client::Pushed::kQueued: ++sent; break;
        case Client::Pushed::kOverflow:
            ++impl_->overflows;
            impl_->log->warn("websocket {} disconnected: {} messages waiting (queue limit)", id,
                             impl_->options.queue_limit);
            break;
        case Client::Pushed::kClosed: break;
        }
    }
    return sent;
}

std::uint64_t WebSockets::overflows() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->overflows;
}

std::size_t WebSockets::clients() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->clients.size();
}

void WebSockets::close_all() {
    std::lock_guard lock(impl_->mutex);
    impl_->closing = true;
    for (const auto& [id, client] : impl_->clients) client->end(websocket::close_code::going_away, "server shutting down");
}

}  // namespace lava::common::net::detail
