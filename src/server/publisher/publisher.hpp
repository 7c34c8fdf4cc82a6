#pragma once
// lava-publisher's event fan-out (lava-protocols.md §5): a ZMQ PULL socket
// where lava-server and lava-scheduler push LAVA's 5-frame events, and a
// ZMQ PUB socket that forwards each event unchanged to every subscriber
// (LAVA's ZMQ output is unfiltered; WebSocket clients, which are filtered
// by what they may see, come with the WebSocket server). A subscriber that
// cannot keep up loses events at its queue's limit; it never slows the
// others or the pushers.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace lava::server::publisher {

struct PublisherSettings {
    std::string event_socket = "ipc:///tmp/lava.events";  // input (LAVA's INTERNAL_EVENT_SOCKET)
    std::string publish_socket = "tcp://*:5500";          // output (LAVA's EVENT_SOCKET)
    int queue_limit = 10000;                               // messages per subscriber (ZMQ HWM)
};

class Publisher {
public:
    // Binds both sockets; throws std::runtime_error naming the endpoint that failed.
    explicit Publisher(const PublisherSettings& settings);
    ~Publisher();
    Publisher(const Publisher&) = delete;
    Publisher& operator=(const Publisher&) = delete;

    // The endpoints actually bound (a "*" port resolved), for logs and tests.
    const std::string& input_endpoint() const { return input_; }
    const std::string& output_endpoint() const { return output_; }

    // Forwards events until stop(); returns how many were forwarded.
    std::uint64_t run();
    // From any thread or a signal handler: run() returns within 100 ms.
    void stop() { stopping_.store(true); }

private:
    struct Sockets;
    std::unique_ptr<Sockets> sockets_;
    std::string input_;
    std::string output_;
    std::atomic<bool> stopping_{false};
};


}  // namespace lava::server::publisher
