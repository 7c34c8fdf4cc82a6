#include "server/web/events.hpp"

#include "common/crypto/password.hpp"
#include "common/log/log.hpp"
#include "common/proto/events.hpp"
#include "server/web/app.hpp"

#include <zmq.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace lava::server::web {
namespace {

// datetime.utcnow().isoformat(): microseconds dropped when zero.
std::string utc_now_iso() {
    const auto now = std::chrono::system_clock::now();
    const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now - secs).count();
    const std::time_t t = std::chrono::system_clock::to_time_t(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string out = buf;
    if (micros != 0) {
        char frac[16];
        std::snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(micros));
        out += frac;
    }
    return out;
}

}  // namespace

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
};

EventPublisher::EventPublisher(const std::string& endpoint, std::string topic) : impl_(std::make_unique<Impl>()) {
    impl_->topic = std::move(topic);
    impl_->socket.set(zmq::sockopt::linger, 0);
    impl_->socket.set(zmq::sockopt::sndhwm, 10000);
    if (!endpoint.empty()) impl_->socket.connect(endpoint);
}

EventPublisher::~EventPublisher() = default;

void EventPublisher::publish(const std::vector<PendingEvent>& events) {
    std::lock_guard lock(impl_->mutex);
    for (const auto& e : events) {
        const auto frames = proto::to_frames(
            proto::Event{impl_->topic + e.topic_suffix, uuid1(), utc_now_iso(), e.username, e.payload});
        try {
            for (std::size_t i = 0; i < frames.size(); ++i) {
                const auto flags = zmq::send_flags::dontwait |
                                   (i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
                if (!impl_->socket.send(zmq::buffer(frames[i]), flags)) {
                    // Nobody to take it (no publisher yet): LAVA drops it too.
                    impl_->log->debug("event {} dropped: publisher not reachable", frames[0]);
                    break;
                }
            }
        } catch (const zmq::error_t& err) {
            impl_->log->warn("event {} dropped: {}", frames[0], err.what());
        }
    }
}

}  // namespace lava::server::web
