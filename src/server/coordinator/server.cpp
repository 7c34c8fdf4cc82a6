#include "server/coordinator/server.hpp"

#include "common/async/spawn.hpp"
#include "common/log/log.hpp"
#include "common/proto/coordinator.hpp"
#include "common/proto/json.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>

#include <list>
#include <optional>
#include <system_error>

namespace lava::server::coordinator {

namespace asio = boost::asio;
using asio::ip::tcp;

struct Server::Impl {
    ServerOptions options;
    ServerHooks hooks;
    // Open connections, oldest first, for the ticker's deadline sweep: one
    // timer per connection would cost a timerfd update per request.
    struct Connection {
        Connection(tcp::socket s, Clock::time_point now) : socket(std::move(s)), opened(now) {}
        tcp::socket socket;
        Clock::time_point opened;
        bool timed_out = false;
    };
    // Declared before the io_context: connections still open when it is
    // destroyed take themselves off this list.
    std::list<Connection*> open_connections;

    asio::io_context ioc{1};
    tcp::acceptor acceptor{ioc};
    asio::steady_timer ticker{ioc};
    Groups groups;
    std::shared_ptr<spdlog::logger> log = common::log::get("lava-coordinator");

    void dropped(std::string_view reason) {
        if (hooks.dropped) hooks.dropped(reason);
    }

    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            if (ec) {
                // Out of descriptors: let connections finish before accepting more.
                log->warn("accept failed: {}", ec.message());
                asio::steady_timer pause(ioc, std::chrono::milliseconds(100));
                co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
                continue;
            }
            asio::co_spawn(ioc, serve(std::move(socket)), common::async::log_completion("coordinator connection"));
        }
    }

    // One connection: a frame in, a frame out, closed (LAVA's server closes
    // right after its reply, without a shutdown).
    asio::awaitable<void> serve(tcp::socket accepted) {
        Connection connection(std::move(accepted), Clock::now());
        const auto self = open_connections.insert(open_connections.end(), &connection);
        struct Forget {
            std::list<Connection*>& list;
            std::list<Connection*>::iterator it;
            ~Forget() { list.erase(it); }
        } forget{open_connections, self};
        tcp::socket& socket = connection.socket;

        // Usually the whole frame arrives in the first read.
        std::string in(4096, '\0');
        std::size_t have = 0;
        std::optional<std::size_t> length;
        for (;;) {
            if (have == in.size()) in.resize(in.size() * 2);
            auto [ec, n] = co_await socket.async_read_some(asio::buffer(in.data() + have, in.size() - have),
                                                           asio::as_tuple(asio::use_awaitable));
            have += n;
            if (!length && have >= proto::coordinator::kHeaderSize) {
                const std::string_view header(in.data(), proto::coordinator::kHeaderSize);
                length = proto::coordinator::parse_header(header);
                if (!length) {
                    log->warn("invalid message header {:?} from {}", header, peer(socket));
                    dropped("bad_header");
                    co_return;
                }
                if (*length > options.max_message) {
                    log->warn("message of {} bytes from {} is over max_message_bytes ({})", *length, peer(socket),
                              options.max_message);
                    dropped("too_large");
                    co_return;
                }
                if (in.size() < proto::coordinator::kHeaderSize + *length) {
                    in.resize(proto::coordinator::kHeaderSize + *length);
                }
            }
            if (length && have >= proto::coordinator::kHeaderSize + *length) break;
            if (ec) {
                dropped(connection.timed_out ? "timeout" : "closed");
                co_return;
            }
        }
        const std::string_view payload(in.data() + proto::coordinator::kHeaderSize, *length);
        std::string problem;
        Json request;
        if (auto limits = proto::json_limits_problem(payload)) {
            problem = *limits;
        } else {
            request = Json::parse(payload, nullptr, false);
            if (request.is_discarded()) problem = "not JSON";
        }
        if (!problem.empty()) {
            log->warn("invalid request from {} ({}): {:.100}", peer(socket), problem, payload);
            dropped("bad_json");
            co_return;
        }
        const Reply reply = groups.handle(request, Clock::now());
        if (hooks.request) hooks.request(reply);
        if (log->should_log(spdlog::level::debug)) {
            log->debug("{} -> {}", payload, reply.payload.value_or("(closed)"));
        }
        if (!reply.payload) co_return;
        const std::string out = proto::coordinator::frame(*reply.payload);
        co_await asio::async_write(socket, asio::buffer(out), asio::as_tuple(asio::use_awaitable));
    }

    // Closes the connections older than client_timeout (the ticker's).
    void close_late_connections(Clock::time_point now) {
        for (Connection* c : open_connections) {
            if (now - c->opened < options.client_timeout) break;  // the rest are younger
            if (c->timed_out) continue;
            c->timed_out = true;
            boost::system::error_code ignored;
            c->socket.close(ignored);  // its read ends with an error: the coroutine reports and returns
        }
    }

    static std::string peer(const tcp::socket& socket) {
        boost::system::error_code ec;
        const auto endpoint = socket.remote_endpoint(ec);
        return ec ? std::string("?") : endpoint.address().to_string();
    }

    void arm_ticker() {
        ticker.expires_after(options.tick);
        ticker.async_wait([this](boost::system::error_code ec) {
            if (ec) return;
            const auto now = Clock::now();
            close_late_connections(now);
            groups.expire(now, options.group_timeout);
            if (hooks.tick) hooks.tick(groups.group_count(), groups.client_count());
            arm_ticker();
        });
    }
};

Server::Server(ServerOptions options, ServerHooks hooks) : impl_(std::make_unique<Impl>()) {
    impl_->options = std::move(options);
    impl_->hooks = std::move(hooks);
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(impl_->options.bind, ec);
    if (ec) {
        throw std::system_error(ec, fmt::format("bind address '{}'", impl_->options.bind));
    }
    const tcp::endpoint endpoint(address, impl_->options.port);
    auto& acceptor = impl_->acceptor;
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint, ec);
    if (ec) throw std::system_error(ec, fmt::format("cannot listen on {}:{}", impl_->options.bind, impl_->options.port));
    // LAVA's coordinator listens with a backlog of 1; bursts of nodes need more.
    acceptor.listen(asio::socket_base::max_listen_connections);
}

Server::~Server() = default;

std::uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

void Server::run() {
    asio::co_spawn(impl_->ioc, impl_->accept_loop(), common::async::log_completion("coordinator accept loop"));
    if (impl_->hooks.tick) impl_->hooks.tick(0, 0);
    impl_->arm_ticker();
    impl_->ioc.run();
}

void Server::stop() {
    asio::post(impl_->ioc, [this] {
        boost::system::error_code ignored;
        impl_->acceptor.close(ignored);
        impl_->ticker.cancel();
        impl_->ioc.stop();
    });
}

}  // namespace lava::server::coordinator
