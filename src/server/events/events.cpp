#include "server/events/events.hpp"

#include "common/base/clock.hpp"

#include "common/crypto/password.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/proto/events.hpp"
#include "common/proto/states.hpp"
#include "server/events/job_metrics.hpp"
#include "server/store/sql.hpp"

#include <nlohmann/json.hpp>

#include <map>

#include <zmq.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace lava::server::events {
namespace {


}  // namespace

std::string event_datetime(const std::string& iso) {
    if (iso.size() > 7 && iso.compare(iso.size() - 7, 7, ".000000") == 0) return iso.substr(0, iso.size() - 7) + "+00:00";
    return iso + "+00:00";
}

nlohmann::json testjob_event(const store::Job& j) {
    proto::TestJobEvent e;
    e.health = proto::display(j.health);
    e.state = proto::display(j.state);
    e.job = j.id;
    e.description = j.description;
    e.priority = j.priority;
    e.submit_time = event_datetime(j.submit_time);
    e.submitter = j.submitter;
    e.health_check = j.health_check;
    if (!j.sub_id.empty()) e.sub_id = j.sub_id;
    e.device = j.actual_device;
    e.worker = j.worker;
    e.device_type = j.requested_device_type;
    if (j.start_time) e.start_time = event_datetime(*j.start_time);
    if (j.end_time) e.end_time = event_datetime(*j.end_time);
    return proto::to_json(e);
}

nlohmann::json device_event(const store::Device& d) {
    proto::DeviceEvent e;
    e.health = proto::display(d.health);
    e.state = proto::display(d.state);
    e.device = d.hostname;
    e.device_type = d.device_type;
    e.worker = d.worker;
    if (d.current_job) e.job = std::to_string(*d.current_job);
    return proto::to_json(e);
}

nlohmann::json worker_event(const store::Worker& w) {
    return proto::to_json(
        proto::WorkerEvent{w.hostname, std::string(proto::display(w.health)), std::string(proto::display(w.state))});
}

PendingEvent job_event(const store::Job& job) { return PendingEvent{".testjob", job.submitter, testjob_event(job).dump()}; }

PendingEvent device_pending_event(const store::Device& device) {
    return PendingEvent{".device", "lavaserver", device_event(device).dump()};
}

namespace {

// What the events need of jobs and devices, and no more (a pass may touch
// a thousand of each). `state + 0`: the current job is found through the
// device's index, never through the state index (with a thousand jobs
// Scheduled, that one would be read once per device).
const common::db::Statement kJobEvents{
    "events.jobs",
    "SELECT j.id, j.sub_id, u.username, j.description, j.health_check, j.requested_device_type, j.actual_device, "
    "d.worker_host, " LAVA_SQL_ISO("j.submit_time") ", " LAVA_SQL_ISO("j.start_time") ", " LAVA_SQL_ISO("j.end_time")
    ", j.state, j.health, j.priority FROM test_jobs j JOIN users u ON u.id = j.submitter_id "
    "LEFT JOIN devices d ON d.hostname = j.actual_device WHERE j.id = ANY($1::text::bigint[])"};
const common::db::Statement kDeviceEvents{
    "events.devices",
    "SELECT d.hostname, d.device_type, d.state, d.health, d.worker_host, (SELECT j.id FROM test_jobs j "
    "WHERE j.actual_device = d.hostname AND j.state + 0 BETWEEN 1 AND 4 ORDER BY j.id DESC LIMIT 1) "
    "FROM devices d WHERE d.hostname = ANY($1::text::text[])"};

}  // namespace

void collect(common::db::Tx& tx, const store::Touched& touched, std::vector<PendingEvent>& out) {
    // In the order things were touched (jobs' events before devices').
    if (!touched.jobs.empty()) {
        std::map<std::int64_t, store::Job> jobs;
        for (const auto& r : tx.exec(kJobEvents, store::int_array_literal(touched.jobs))) {
            store::Job j;
            j.id = r[0].as<std::int64_t>();
            j.sub_id = r[1].as<std::string>();
            j.submitter = r[2].as<std::string>();
            j.description = r[3].as<std::string>();
            j.health_check = r[4].as<bool>();
            j.requested_device_type = store::optional_text(r[5]);
            j.actual_device = store::optional_text(r[6]);
            j.worker = store::optional_text(r[7]);
            j.submit_time = r[8].as<std::string>();
            j.start_time = store::optional_text(r[9]);
            j.end_time = store::optional_text(r[10]);
            j.state = static_cast<proto::JobState>(r[11].as<int>());
            j.health = static_cast<proto::JobHealth>(r[12].as<int>());
            j.priority = r[13].as<int>();
            jobs.emplace(j.id, std::move(j));
        }
        for (auto id : touched.jobs) {
            if (auto it = jobs.find(id); it != jobs.end()) out.push_back(job_event(it->second));
        }
    }
    if (!touched.devices.empty()) {
        std::map<std::string, store::Device> devices;
        for (const auto& r : tx.exec(kDeviceEvents, store::text_array_literal(touched.devices))) {
            store::Device d;
            d.hostname = r[0].as<std::string>();
            d.device_type = r[1].as<std::string>();
            d.state = static_cast<proto::DeviceState>(r[2].as<int>());
            d.health = static_cast<proto::DeviceHealth>(r[3].as<int>());
            d.worker = store::optional_text(r[4]);
            if (!r[5].is_null()) d.current_job = r[5].as<std::int64_t>();
            devices.emplace(d.hostname, std::move(d));
        }
        for (const auto& hostname : touched.devices) {
            if (auto it = devices.find(hostname); it != devices.end()) {
                out.push_back(device_pending_event(it->second));
            }
        }
    }
}

void collect_worker(common::db::Tx& tx, const std::string& hostname, std::vector<PendingEvent>& out) {
    if (auto w = store::WorkerRepository(tx).get(hostname)) {
        out.push_back(PendingEvent{".worker", "lavaserver", worker_event(*w).dump()});
    }
}

std::string uuid1() {
    // 100 ns intervals since 1582-10-15, a random clock sequence and a
    // random node with the multicast bit set (RFC 4122 §4.5).
    static std::mutex mutex;
    static std::uint64_t last = 0;
    std::uint64_t ts;
    {
        std::lock_guard lock(mutex);
        const auto ns100 = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count() /
                           100;
        ts = static_cast<std::uint64_t>(ns100) + 0x01B21DD213814000ULL;
        if (ts <= last) ts = last + 1;
        last = ts;
    }
    const std::string rnd = common::crypto::random_string(16, "0123456789abcdef");
    const unsigned clock_seq = (std::stoul(rnd.substr(0, 4), nullptr, 16) & 0x3FFF) | 0x8000;
    const unsigned long long node = std::stoull(rnd.substr(4, 12), nullptr, 16) | 0x010000000000ULL;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(ts & 0xFFFFFFFF),
                  static_cast<unsigned>((ts >> 32) & 0xFFFF), static_cast<unsigned>(((ts >> 48) & 0x0FFF) | 0x1000),
                  clock_seq, node);
    return buf;
}

struct EventPublisher::Impl {
    zmq::context_t context{1};
    zmq::socket_t socket{context, zmq::socket_type::push};
    std::string topic;
    std::mutex mutex;
    std::shared_ptr<spdlog::logger> log = common::log::get("events");
    common::metrics::Family<common::metrics::Counter>* sent = nullptr;
    common::metrics::Family<common::metrics::Counter>* dropped = nullptr;
    std::unique_ptr<JobMetrics> jobs;
};

EventPublisher::EventPublisher(const std::string& endpoint, std::string topic) : impl_(std::make_unique<Impl>()) {
    impl_->topic = std::move(topic);
    impl_->socket.set(zmq::sockopt::linger, 0);
    impl_->socket.set(zmq::sockopt::sndhwm, 10000);
    if (!endpoint.empty()) impl_->socket.connect(endpoint);
}

EventPublisher::~EventPublisher() = default;

void EventPublisher::instrument(common::metrics::Registry& registry) {
    std::lock_guard lock(impl_->mutex);
    impl_->sent = &registry.counter("lava_events_sent_total", "Events sent to lava-publisher", {"topic"});
    impl_->dropped = &registry.counter("lava_events_dropped_total",
                                       "Events not sent to lava-publisher (unreachable or slow)", {"topic"});
    impl_->jobs = std::make_unique<JobMetrics>(registry);
}

void EventPublisher::publish(const std::vector<PendingEvent>& events) {
    std::lock_guard lock(impl_->mutex);
    if (impl_->jobs) impl_->jobs->observe(events);
    for (const auto& e : events) {
        bool sent = false;
        const auto frames = proto::to_frames(
            proto::Event{impl_->topic + e.topic_suffix, uuid1(), python_isoformat(std::chrono::system_clock::now()), e.username, e.payload});
        try {
            for (std::size_t i = 0; i < frames.size(); ++i) {
                const auto flags = zmq::send_flags::dontwait |
                                   (i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
                if (!impl_->socket.send(zmq::buffer(frames[i]), flags)) {
                    // Nobody to take it (no publisher yet): LAVA drops it too.
                    impl_->log->debug("event {} dropped: publisher not reachable", frames[0]);
                    break;
                }
                sent = i + 1 == frames.size();
            }
        } catch (const zmq::error_t& err) {
            impl_->log->warn("event {} dropped: {}", frames[0], err.what());
        }
        if (impl_->sent) (sent ? impl_->sent : impl_->dropped)->with({e.topic_suffix.substr(1)}).inc();
    }
}

}  // namespace lava::server::events
