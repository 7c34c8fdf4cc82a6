#pragma once
// The server daemons' side of LAVA's event bus (lava-protocols.md §5.1-5.3),
// shared by lava-server and lava-scheduler: the events of what a
// transaction changed, built from the rows before the commit, and a ZMQ
// PUSH socket connected to lava-publisher's input (event_socket). Each
// event is 5 frames: topic (<event_topic><suffix>), a uuid1, the naive UTC
// time, the username, the JSON payload. Sent without blocking: when the
// publisher is down or slow, events are dropped (as LAVA does); the
// database stays the truth. Thread-safe.

#include "common/db/pool.hpp"
#include "server/store/devices.hpp"
#include "server/store/jobs.hpp"
#include "server/store/transitions.hpp"
#include "server/store/workers.hpp"

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>
#include <vector>

namespace lava::common::metrics {
class Registry;
}

namespace lava::server::events {

// An event to publish once its transaction committed (§5.2 frames).
struct PendingEvent {
    std::string topic_suffix;  // ".testjob", ".device", ".worker", ".event"
    std::string username;
    std::string payload;  // JSON text
};

// "2026-11-30T09:21:16.238000" (store) -> "2026-11-30T09:21:16.238000+00:00",
// as LAVA's events carry times; microseconds dropped when zero, as Python's
// isoformat() does.
std::string event_datetime(const std::string& iso);

// The payloads of org.lavasoftware.{testjob,device,worker} events.
nlohmann::json testjob_event(const store::Job& job);
nlohmann::json device_event(const store::Device& device);
nlohmann::json worker_event(const store::Worker& worker);

PendingEvent job_event(const store::Job& job);
PendingEvent device_pending_event(const store::Device& device);
// The events of the jobs and devices a transition touched, read in `tx`.
void collect(common::db::Tx& tx, const store::Touched& touched, std::vector<PendingEvent>& out);
// A worker's event (nothing when it does not exist).
void collect_worker(common::db::Tx& tx, const std::string& hostname, std::vector<PendingEvent>& out);

class EventPublisher {
public:
    EventPublisher(const std::string& endpoint, std::string topic);
    ~EventPublisher();
    EventPublisher(const EventPublisher&) = delete;
    EventPublisher& operator=(const EventPublisher&) = delete;

    void publish(const std::vector<PendingEvent>& events);
    // From now on, counts what publish() is given in `registry`: events
    // sent and dropped (lava_events_{sent,dropped}_total{topic}) and the
    // job metrics of JobMetrics (job_metrics.hpp). Call before publishing.
    void instrument(common::metrics::Registry& registry);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// A time-based (version 1) UUID as text, as Python's str(uuid.uuid1()).
std::string uuid1();

}  // namespace lava::server::events
