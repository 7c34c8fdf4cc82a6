#pragma once
// lava-server's side of LAVA's event bus (lava-protocols.md §5.1-5.2): a
// ZMQ PUSH socket connected to lava-publisher's input (event_socket). Each
// event is 5 frames: topic (<event_topic><suffix>), a uuid1, the naive UTC
// time, the username, the JSON payload. Sent without blocking: when the
// publisher is down or slow, events are dropped (as LAVA does); the
// database stays the truth. Thread-safe.

#include <memory>
#include <string>
#include <vector>

namespace lava::server::web {

struct PendingEvent;

class EventPublisher {
public:
    EventPublisher(const std::string& endpoint, std::string topic);
    ~EventPublisher();
    EventPublisher(const EventPublisher&) = delete;
    EventPublisher& operator=(const EventPublisher&) = delete;

    void publish(const std::vector<PendingEvent>& events);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// A time-based (version 1) UUID as text, as Python's str(uuid.uuid1()).
std::string uuid1();

}  // namespace lava::server::web
