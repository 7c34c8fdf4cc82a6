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

#include <array>
#include <system_error>

namespace lava::server::coordinator {

namespace asio = boost::asio;
using asio::ip::tcp;

struct Server::Impl {
    ServerOptions options;
    ServerHooks hooks;
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
            asio::co_spawn(ioc, serve(std::make_shared<Connection>(std::move(socket))),
                           common::async::log_completion("coordinator connection"));
        }
    }

    // One connection: a frame in, a frame out, closed. The deadline's
    // handler may run after this frame is gone (it was already queued when
    // the read completed), so what it touches is shared.
    struct Connection {
        explicit Connection(tcp::socket s) : socket(std::move(s)) {}
        tcp::socket socket;
        bool timed_out = false;
    };
    asio::awaitable<void> serve(std::shared_ptr<Connection> connection) {
        asio::steady_timer deadline(ioc, options.client_timeout);
        deadline.async_wait([connection](boost::system::error_code ec) {
            if (ec) return;
            connection->timed_out = true;
            boost::system::error_code ignored;
            connection->socket.close(ignored);
        });
        struct Cancel {
            asio::steady_timer& timer;
            ~Cancel() { timer.cancel(); }
        } cancel{deadline};
        tcp::socket* socket = &connection->socket;
        const bool& timed_out = connection->timed_out;

        std::array<char, proto::coordinator::kHeaderSize> header{};
        auto [header_ec, header_n] =
            co_await asio::async_read(*socket, asio::buffer(header), asio::as_tuple(asio::use_awaitable));
        if (header_ec) {
            dropped(timed_out ? "timeout" : "closed");
            co_return;
        }
        const auto length = proto::coordinator::parse_header(std::string_view(header.data(), header.size()));
        if (!length) {
            log->warn("invalid message header {:?} from {}", std::string_view(header.data(), header.size()),
                      peer(*socket));
            dropped("bad_header");
            co_return;
        }
        if (*length > options.max_message) {
            log->warn("message of {} bytes from {} is over max_message_bytes ({})", *length, peer(*socket),
                      options.max_message);
            dropped("too_large");
            co_return;
        }
        std::string payload(*length, '\0');
        auto [body_ec, body_n] =
            co_await asio::async_read(*socket, asio::buffer(payload), asio::as_tuple(asio::use_awaitable));
        if (body_ec) {
            dropped(timed_out ? "timeout" : "closed");
            co_return;
        }
        std::string problem;
        Json request;
        if (auto limits = proto::json_limits_problem(payload)) {
            problem = *limits;
        } else {
            request = Json::parse(payload, nullptr, false);
            if (request.is_discarded()) problem = "not JSON";
        }
        if (!problem.empty()) {
            log->warn("invalid request from {} ({}): {:.100}", peer(*socket), problem, payload);
            dropped("bad_json");
            co_return;
        }
        const Reply reply = groups.handle(request, std::chrono::steady_clock::now());
        if (hooks.request) hooks.request(reply);
        if (log->should_log(spdlog::level::debug)) {
            log->debug("{} -> {}", payload, reply.payload.value_or("(closed)"));
        }
        if (!reply.payload) co_return;
        const std::string out = proto::coordinator::frame(*reply.payload);
        co_await asio::async_write(*socket, asio::buffer(out), asio::as_tuple(asio::use_awaitable));
        boost::system::error_code ignored;
        socket->shutdown(tcp::socket::shutdown_both, ignored);
    }

    static std::string peer(const tcp::socket& socket) {
        boost::system::error_code ec;
        const auto endpoint = socket.remote_endpoint(ec);
        return ec ? std::string("?") : endpoint.address().to_string();
    }

    void arm_ticker() {
        ticker.expires_after(std::chrono::seconds(1));
        ticker.async_wait([this](boost::system::error_code ec) {
            if (ec) return;
            groups.expire(std::chrono::steady_clock::now(), options.group_timeout);
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
