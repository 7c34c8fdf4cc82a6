#include "server/coordinator/server.hpp"

#include "common/async/spawn.hpp"
#include "common/log/log.hpp"
#include "common/proto/coordinator.hpp"
#include "common/proto/json.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
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

    // What the bytes a connection sent so far make: more to read, a reply
    // to write (then close), or close now.
    struct Step {
        enum Kind { kMore, kReply, kClose } kind;
        std::string out;
    };
    Step consume(std::string_view in, int fd) {
        constexpr auto kHeader = proto::coordinator::kHeaderSize;
        if (in.size() < kHeader) return {Step::kMore, {}};
        const std::string_view header = in.substr(0, kHeader);
        const auto length = proto::coordinator::parse_header(header);
        if (!length) {
            log->warn("invalid message header {:?} from {}", header, peer(fd));
            dropped("bad_header");
            return {Step::kClose, {}};
        }
        if (*length > options.max_message) {
            log->warn("message of {} bytes from {} is over max_message_bytes ({})", *length, peer(fd),
                      options.max_message);
            dropped("too_large");
            return {Step::kClose, {}};
        }
        if (in.size() < kHeader + *length) return {Step::kMore, {}};
        const std::string_view payload = in.substr(kHeader, *length);
        std::string problem;
        Json request;
        if (auto limits = proto::json_limits_problem(payload)) {
            problem = *limits;
        } else {
            request = Json::parse(payload, nullptr, false);
            if (request.is_discarded()) problem = "not JSON";
        }
        if (!problem.empty()) {
            log->warn("invalid request from {} ({}): {:.100}", peer(fd), problem, payload);
            dropped("bad_json");
            return {Step::kClose, {}};
        }
        const Reply reply = groups.handle(request, Clock::now());
        if (hooks.request) hooks.request(reply);
        if (log->should_log(spdlog::level::debug)) {
            log->debug("{} -> {}", payload, reply.payload.value_or("(closed)"));
        }
        if (!reply.payload) return {Step::kClose, {}};
        return {Step::kReply, proto::coordinator::frame(*reply.payload)};
    }

    // Connections are accepted here, not by Asio, for the common case: the
    // client's frame is already there when its connection is accepted, so
    // accept4, recv, send and close serve it, without registering it with
    // the reactor (two epoll_ctl) or switching it to non-blocking (ioctl).
    // A connection whose frame is not whole yet becomes an Asio socket.
    asio::awaitable<void> accept_loop() {
        const int listener = acceptor.native_handle();
        for (;;) {
            auto [ec] = co_await acceptor.async_wait(tcp::acceptor::wait_read, asio::as_tuple(asio::use_awaitable));
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            // Until the queue is empty (the reactor is edge-triggered), a
            // batch at a time: between batches the connections waiting in
            // the reactor and the ticker get their turn.
            for (bool drained = false; !drained;) {
                for (int batch = 0; batch < 32 && !drained; ++batch) {
                    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd >= 0) {
                        serve_new(fd);
                    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                        drained = true;
                    } else if (errno != EINTR && errno != ECONNABORTED) {
                        // Out of descriptors: let connections finish before accepting more.
                        log->warn("accept failed: {}", std::strerror(errno));
                        asio::steady_timer pause(ioc, std::chrono::milliseconds(100));
                        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
                    }
                }
                if (!drained) co_await asio::post(ioc, asio::use_awaitable);
                if (!acceptor.is_open()) co_return;  // stopped meanwhile
            }
        }
    }

    void serve_new(int fd) {
        std::string in(4096, '\0');
        const auto n = ::recv(fd, in.data(), in.size(), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            ::close(fd);
            dropped("closed");
            return;
        }
        in.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
        Step step = consume(in, fd);
        if (step.kind == Step::kClose) {
            ::close(fd);
            return;
        }
        if (step.kind == Step::kReply) {
            const auto sent = ::send(fd, step.out.data(), step.out.size(), MSG_NOSIGNAL);
            if (sent == static_cast<ssize_t>(step.out.size()) || (sent < 0 && errno != EAGAIN)) {
                ::close(fd);
                return;
            }
            step.out.erase(0, sent > 0 ? static_cast<std::size_t>(sent) : 0);  // a big reply: Asio writes the rest
        }
        tcp::socket socket(ioc);
        boost::system::error_code ec;
        socket.assign(acceptor.local_endpoint().protocol(), fd, ec);
        if (ec) {
            ::close(fd);
            return;
        }
        asio::co_spawn(ioc, serve(std::move(socket), std::move(in), std::move(step)),
                       common::async::log_completion("coordinator connection"));
    }

    // A connection whose frame was not whole at once (or whose reply did not
    // fit the socket's buffer); LAVA's server closes right after its reply,
    // without a shutdown, and so does this one.
    asio::awaitable<void> serve(tcp::socket accepted, std::string in, Step step) {
        Connection connection(std::move(accepted), Clock::now());
        const auto self = open_connections.insert(open_connections.end(), &connection);
        struct Forget {
            std::list<Connection*>& list;
            std::list<Connection*>::iterator it;
            ~Forget() { list.erase(it); }
        } forget{open_connections, self};
        tcp::socket& socket = connection.socket;
        std::size_t have = in.size();
        while (step.kind == Step::kMore) {
            if (have == in.size()) in.resize(std::max<std::size_t>(in.size() * 2, 4096));
            auto [ec, n] = co_await socket.async_read_some(asio::buffer(in.data() + have, in.size() - have),
                                                           asio::as_tuple(asio::use_awaitable));
            have += n;
            if (ec && n == 0) {
                dropped(connection.timed_out ? "timeout" : "closed");
                co_return;
            }
            step = consume(std::string_view(in.data(), have), socket.native_handle());
        }
        if (step.kind == Step::kReply) {
            co_await asio::async_write(socket, asio::buffer(step.out), asio::as_tuple(asio::use_awaitable));
        }
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

    static std::string peer(int fd) {
        sockaddr_storage address{};
        socklen_t size = sizeof address;
        if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) return "?";
        char text[INET6_ADDRSTRLEN] = "?";
        const void* in = address.ss_family == AF_INET6
                             ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&address)->sin6_addr)
                             : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&address)->sin_addr);
        ::inet_ntop(address.ss_family, in, text, sizeof text);
        return text;
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
    acceptor.non_blocking(true);  // accept_loop accepts until EAGAIN
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
