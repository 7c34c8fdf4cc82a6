#pragma once
// lava-coordinator's TCP server: accepts LAVA's one-request connections,
// reads the frame (with a deadline, so a slow or silent client only ever
// holds its own connection), answers through Groups and closes. One
// io_context on one thread (run()) owns the Groups: no locks, and requests
// are served in the order their frames complete. A connection whose frame
// is there when it is accepted is served by plain system calls, the others
// by a coroutine (ADR 0013).

#include "server/coordinator/groups.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace lava::server::coordinator {

struct ServerOptions {
    std::string bind = "0.0.0.0";
    std::uint16_t port = 3079;  // 0: any free port (see port())
    // A connection that has not sent its whole request by then is closed.
    std::chrono::milliseconds client_timeout{10000};
    std::size_t max_message = 1024 * 1024;  // payload bytes
    // How often the I/O loop looks at deadlines and idle groups, and calls
    // the tick hook (the systemd watchdog's keep-alive).
    std::chrono::milliseconds tick{1000};
    // A group that saw no request for this long is forgotten.
    std::chrono::seconds group_timeout{48 * 3600};
};

// What the server reports (metrics); called on the I/O thread.
struct ServerHooks {
    // An answered request (reply.payload empty: `complete`, closed without reply).
    std::function<void(const Reply&)> request;
    // A connection closed without a request: "timeout", "closed" (before a
    // whole frame), "bad_header", "too_large", "bad_json".
    std::function<void(std::string_view)> dropped;
    // Once a second, with the number of groups and of their clients.
    std::function<void(std::size_t groups, std::size_t clients)> tick;
};

class Server {
public:
    // Binds (throws std::system_error naming the address when it cannot).
    Server(ServerOptions options, ServerHooks hooks);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    std::uint16_t port() const;
    // Serves until stop().
    void run();
    // From any thread.
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace lava::server::coordinator
