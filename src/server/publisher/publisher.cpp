#include "server/publisher/publisher.hpp"

#include "common/base/notify.hpp"

#include "common/base/limits.hpp"
#include "common/log/log.hpp"

#include <zmq.hpp>

#include <stdexcept>
#include <vector>

namespace lava::server::publisher {

struct Publisher::Sockets {
    zmq::context_t context{1};
    zmq::socket_t pull{context, zmq::socket_type::pull};
    zmq::socket_t pub{context, zmq::socket_type::pub};
};

namespace {

std::string bind(zmq::socket_t& socket, const std::string& endpoint, const char* what) {
    try {
        socket.bind(endpoint);
    } catch (const zmq::error_t& e) {
        throw std::runtime_error(std::string("cannot bind the ") + what + " socket " + endpoint + ": " + e.what());
    }
    return socket.get(zmq::sockopt::last_endpoint);
}

}  // namespace

Publisher::Publisher(const PublisherSettings& settings) : sockets_(std::make_unique<Sockets>()) {
    auto& s = *sockets_;
    s.pull.set(zmq::sockopt::linger, 0);
    s.pub.set(zmq::sockopt::linger, 0);
    s.pull.set(zmq::sockopt::rcvhwm, settings.queue_limit);
    // A peer that sends a larger frame is disconnected by ZMQ itself.
    s.pull.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(input_limits().zmq_max_message_bytes));
    s.pub.set(zmq::sockopt::sndhwm, settings.queue_limit);
    input_ = bind(s.pull, settings.event_socket, "input");
    output_ = bind(s.pub, settings.publish_socket, "publish");
}

Publisher::~Publisher() = default;

std::uint64_t Publisher::run(const std::function<void(const proto::Event&)>& also) {
    auto log = common::log::get("lava-publisher");
    auto& s = *sockets_;
    std::uint64_t forwarded = 0;
    std::vector<zmq::message_t> frames;
    common::notify::WatchdogTicker watchdog;  // systemd's, fed by this loop
    while (!stopping_.load()) {
        watchdog.tick();
        zmq::pollitem_t items[] = {{s.pull.handle(), 0, ZMQ_POLLIN, 0}};
        try {
            zmq::poll(items, 1, std::chrono::milliseconds(100));
        } catch (const zmq::error_t& e) {
            if (e.num() == EINTR) continue;
            throw;
        }
        if (!(items[0].revents & ZMQ_POLLIN)) continue;
        // Drain what is there; each event is one multipart message.
        while (!stopping_.load()) {
            frames.clear();
            zmq::message_t frame;
            if (!s.pull.recv(frame, zmq::recv_flags::dontwait)) break;
            std::size_t count = 1;
            bool more = frame.more();
            frames.push_back(std::move(frame));
            while (more) {
                zmq::message_t next;
                (void)s.pull.recv(next, zmq::recv_flags::none);  // the rest of a message is already here
                more = next.more();
                if (++count <= 5) frames.push_back(std::move(next));  // past 5 only counted, not kept
            }
            if (count != 5) {
                log->warn("dropped a message of {} frames (LAVA events have 5)", count);
                continue;
            }
            // Sending empties a message (zero copy): the fan-out's copy first.
            std::vector<std::string> text;
            for (const auto& f : frames) text.push_back(f.to_string());
            // Only well-formed events go out: subscribers parse what they get.
            auto event = proto::parse_frames(text);
            if (!event) {
                log->warn("dropped an event that is not LAVA's: {}", event.error().message);
                continue;
            }
            // lava-cpp's log notices are for the web UI's sockets only.
            const bool notice = text[0].size() >= 4 && text[0].compare(text[0].size() - 4, 4, ".log") == 0;
            for (std::size_t i = 0; i < frames.size() && !notice; ++i) {
                // PUB never blocks: a subscriber at its limit loses this event.
                (void)s.pub.send(frames[i], i + 1 < frames.size() ? zmq::send_flags::sndmore | zmq::send_flags::dontwait
                                                                  : zmq::send_flags::dontwait);
            }
            ++forwarded;
            log->debug("event {} forwarded", text[0]);
            if (also) {
                try {
                    also(*event);
                } catch (const std::exception& e) {
                    log->error("event {}: {}", text[0], e.what());
                }
            }
        }
    }
    return forwarded;
}

}  // namespace lava::server::publisher
