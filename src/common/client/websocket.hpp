#pragma once
// A minimal blocking WebSocket client (RFC 6455) for lava-worker's event
// stream from lava-publisher: ws:// only, text messages in, pings answered,
// client frames masked. One owner thread; receive() waits with a deadline.

#include "common/base/error.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lava::common::client {

class WebSocketClient {
public:
    // Connects to ws://host[:port]/path with `headers` on the upgrade request.
    static Result<std::unique_ptr<WebSocketClient>> connect(
        const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
        std::chrono::steady_clock::time_point deadline);
    ~WebSocketClient();
    WebSocketClient(const WebSocketClient&) = delete;
    WebSocketClient& operator=(const WebSocketClient&) = delete;

    // The next text message. Errors: errc::kUnavailable when the connection
    // closed or broke (message says how), errc::kConflict at the deadline
    // (the connection is still usable).
    Result<std::string> receive(std::chrono::steady_clock::time_point deadline);

private:
    explicit WebSocketClient(int fd) : fd_(fd) {}
    Result<void> send_frame(int opcode, const std::string& payload);
    Result<std::size_t> fill(std::size_t want, std::chrono::steady_clock::time_point deadline);

    int fd_;
    std::string buffer_;  // received, not yet parsed
};

}  // namespace lava::common::client
