#pragma once
// lava-publisher's event fan-out (lava-protocols.md §5): a ZMQ PULL socket
// where lava-server and lava-scheduler push LAVA's 5-frame events, and a
// ZMQ PUB socket that forwards each event unchanged to every subscriber
// (LAVA's ZMQ output is unfiltered: an internal bus, see ADR 0007; the
// WebSocket clients get what they may see, fanout.hpp). A subscriber that
// cannot keep up loses events at its queue's limit; it never slows the
// others or the pushers.

#include "common/proto/events.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace lava::server::publisher {

struct PublisherSettings {
    std::string event_socket = "ipc:///tmp/lava.events";  // input (LAVA's INTERNAL_EVENT_SOCKET)
    std::string publish_socket = "tcp://127.0.0.1:5500";  // output (LAVA's EVENT_SOCKET; loopback, ADR 0007)
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

    // Forwards events until stop(); returns how many were forwarded. Each
    // event also goes to `also` (the WebSocket fan-out), after the PUB send.
    std::uint64_t run(const std::function<void(const proto::Event&)>& also = {});
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
