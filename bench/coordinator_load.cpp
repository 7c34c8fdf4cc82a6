// Load on a lava-coordinator (ours or LAVA's), as LAVA's client talks to it:
// one TCP connection per request (connect, the frame, shutdown(SHUT_WR),
// the reply read until the coordinator closes). Run through bench/coordinator.
//
//   lava-bench-coordinator send --port P --clients C --seconds S
//     C clients in groups of 4 (registered first), each sending lava_send
//     as fast as its replies come back, for S seconds.
//   lava-bench-coordinator sync --port P --nodes N --poll-delay-ms D
//     N nodes of one group register (group_data), then all call lava_sync
//     at once, each polling again D ms after every wait, as LAVA's client
//     does with poll_delay; measures until the last node has its ack.
//
// Prints one JSON object. Clients connect to 127.0.0.1..127.0.0.16 in turn
// (the coordinator listens on 0.0.0.0), so that the connections' TIME_WAIT
// states do not run this machine out of ephemeral ports.

#include "common/proto/coordinator.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <latch>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace wire = lava::proto::coordinator;
using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

enum class Outcome { kReply, kRefused, kDropped, kTimeout, kClientError };

struct Counts {
    long replies = 0;
    long unexpected = 0;  // a reply, but not the one LAVA would give
    std::string sample;   // the first of them
    long refused = 0;
    long dropped = 0;  // closed or reset without a (whole) reply
    long timeout = 0;
    long client_errors = 0;  // this side's limits (ports, descriptors)

    void add(Outcome o) {
        switch (o) {
            case Outcome::kReply:
                ++replies;
                break;
            case Outcome::kRefused:
                ++refused;
                break;
            case Outcome::kDropped:
                ++dropped;
                break;
            case Outcome::kTimeout:
                ++timeout;
                break;
            case Outcome::kClientError:
                ++client_errors;
                break;
        }
    }
    void unexpected_reply(const std::string& reply) {
        if (unexpected++ == 0) sample = reply;
    }
    void merge(const Counts& o) {
        replies += o.replies;
        unexpected += o.unexpected;
        if (sample.empty()) sample = o.sample;
        refused += o.refused;
        dropped += o.dropped;
        timeout += o.timeout;
        client_errors += o.client_errors;
    }
    Json json() const {
        return Json{{"replies", replies},
                    {"unexpected", unexpected},
                    {"unexpected_sample", sample},
                    {"refused", refused},
                    {"dropped", dropped},
                    {"timeout", timeout},
                    {"client_errors", client_errors}};
    }
};

sockaddr_in address(int port, int k) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl((127u << 24) | static_cast<std::uint32_t>(1 + k % 16));
    return a;
}

// One request on its own connection; `reply` gets the whole frame.
Outcome exchange(const sockaddr_in& to, const std::string& frame, std::string& reply,
                 int timeout_ms) {
    reply.clear();
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Outcome::kClientError;
    struct Close {
        int fd;
        ~Close() { ::close(fd); }
    } close_fd{fd};
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // connect() too, on Linux
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
        if (errno == ECONNREFUSED) return Outcome::kRefused;
        if (errno == EINPROGRESS || errno == EAGAIN || errno == ETIMEDOUT) return Outcome::kTimeout;
        if (errno == ECONNRESET) return Outcome::kDropped;
        return Outcome::kClientError;
    }
    for (std::size_t sent = 0; sent < frame.size();) {
        const auto n = ::send(fd, frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN ? Outcome::kTimeout : Outcome::kDropped;
        sent += static_cast<std::size_t>(n);
    }
    ::shutdown(fd, SHUT_WR);
    char buf[4096];
    for (;;) {
        const auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EAGAIN) return Outcome::kTimeout;
            break;  // reset: judged by what arrived
        }
        reply.append(buf, static_cast<std::size_t>(n));
    }
    if (reply.size() < wire::kHeaderSize) return Outcome::kDropped;
    const auto length = wire::parse_header(std::string_view(reply).substr(0, wire::kHeaderSize));
    if (!length || *length != reply.size() - wire::kHeaderSize) return Outcome::kDropped;
    return Outcome::kReply;
}

Json base(const std::string& client, const std::string& group, const std::string& role) {
    wire::Request r;
    r.host = "localhost";
    r.hostname = "bench-" + client;
    r.client_name = client;
    r.group_name = group;
    r.role = role;
    return wire::to_json(r);
}

std::string frame_of(Json request) { return wire::frame(wire::python_dumps(request)); }

std::string response_of(const std::string& reply) {
    const auto j = Json::parse(reply.substr(wire::kHeaderSize), nullptr, false);
    if (!j.is_object() || !j.contains("response") || !j["response"].is_string()) return "";
    return j["response"].get<std::string>();
}

double percentile(std::vector<float>& v, double p) {
    if (v.empty()) return 0;
    const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
}

// The request frames of client `i` (groups of 4): its group_data, then
// lava_send with 8 messageIDs in turn.
struct SendClient {
    sockaddr_in to;
    std::string hello;
    std::vector<std::string> sends;
};

SendClient send_client(int port, int i, const std::string& run) {
    SendClient c{address(port, i), {}, {}};
    const std::string client = std::to_string(10000 + i);
    const Json me = base(client, "bench-" + run + "-" + std::to_string(i / 4),
                         i % 4 == 0 ? "server" : "client");
    Json hello = me;
    hello["request"] = "group_data";
    hello["group_size"] = 4;
    c.hello = frame_of(hello);
    for (int k = 0; k < 8; ++k) {
        Json send = me;
        send["request"] = "lava_send";
        send["messageID"] = "bench-" + std::to_string(k);
        send["message"] = Json{{"ipaddr", "10.0.0." + std::to_string(i % 250)}, {"seq", k}};
        c.sends.push_back(frame_of(send));
    }
    return c;
}

// C clients, a thread each, each with one request in flight at a time
// (blocking calls, as LAVA's client makes them: a client's connect and send
// follow each other, and the coordinator usually finds the whole request
// there when it accepts).
int run_send(int port, int clients, double seconds, int timeout_ms) {
    const std::string run = std::to_string(::getpid());
    std::vector<Counts> counts(static_cast<std::size_t>(clients));
    std::vector<std::vector<float>> latencies(static_cast<std::size_t>(clients));  // ms
    std::latch registered(clients + 1);
    std::atomic<bool> go{false};
    std::atomic<Clock::rep> deadline{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i) {
        threads.emplace_back([&, i] {
            const SendClient c = send_client(port, i, run);
            auto& mine = counts[static_cast<std::size_t>(i)];
            auto& lat = latencies[static_cast<std::size_t>(i)];
            lat.reserve(1 << 16);
            std::string reply;
            // Registration (not measured): the client's group exists. Again
            // until a reply comes back, as LAVA's client would.
            const auto give_up = Clock::now() + std::chrono::seconds(60);
            while (exchange(c.to, c.hello, reply, timeout_ms) != Outcome::kReply &&
                   Clock::now() < give_up) {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
            registered.count_down();
            while (!go.load()) std::this_thread::yield();
            const Clock::time_point end{Clock::duration(deadline.load())};
            for (long n = 0; Clock::now() < end; ++n) {
                const auto t0 = Clock::now();
                const auto outcome =
                    exchange(c.to, c.sends[static_cast<std::size_t>(n % 8)], reply, timeout_ms);
                const auto t1 = Clock::now();
                mine.add(outcome);
                if (outcome == Outcome::kReply) {
                    if (reply != R"(00000013{"response": "ack"})") mine.unexpected_reply(reply);
                    lat.push_back(std::chrono::duration<float, std::milli>(t1 - t0).count());
                }
            }
        });
    }
    registered.arrive_and_wait();
    const auto start = Clock::now();
    deadline = (start +
                std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)))
                   .time_since_epoch()
                   .count();
    go = true;
    for (auto& t : threads) t.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    Counts total;
    std::vector<float> all;
    for (std::size_t i = 0; i < counts.size(); ++i) {
        total.merge(counts[i]);
        all.insert(all.end(), latencies[i].begin(), latencies[i].end());
    }
    Json out = total.json();
    out["mode"] = "send";
    out["clients"] = clients;
    out["seconds"] = elapsed;
    out["requests_per_s"] = static_cast<double>(total.replies) / elapsed;
    out["p50_ms"] = percentile(all, 0.50);
    out["p99_ms"] = percentile(all, 0.99);
    out["max_ms"] = all.empty() ? 0.0 : *std::max_element(all.begin(), all.end());
    std::printf("%s\n", out.dump().c_str());
    return 0;
}

int run_sync(int port, int nodes, int poll_delay_ms, int timeout_ms, double give_up_s) {
    const std::string group = "bench-sync-" + std::to_string(::getpid());
    const auto pause = std::chrono::milliseconds(poll_delay_ms);
    std::vector<Counts> counts(static_cast<std::size_t>(nodes));
    std::vector<double> released(static_cast<std::size_t>(nodes), -1);  // s after the start
    std::vector<long> polls(static_cast<std::size_t>(nodes), 0);
    std::latch ready(nodes + 1);
    std::latch start_latch(1);
    Clock::time_point start;
    const auto give_up =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(give_up_s));
    std::vector<std::thread> threads;
    for (int i = 0; i < nodes; ++i) {
        threads.emplace_back([&, i] {
            const auto to = address(port, i);
            const auto me = base(std::to_string(20000 + i), group, i == 0 ? "server" : "client");
            auto& mine = counts[static_cast<std::size_t>(i)];
            std::string reply;
            // Poll as LAVA's client does: again after a pause while the reply is wait.
            auto poll = [&](const std::string& frame, const char* until, Clock::time_point end) {
                while (Clock::now() < end) {
                    const auto outcome = exchange(to, frame, reply, timeout_ms);
                    mine.add(outcome);
                    ++polls[static_cast<std::size_t>(i)];
                    if (outcome == Outcome::kReply) {
                        const auto response = response_of(reply);
                        if (response == until) return true;
                        if (response != "wait") mine.unexpected_reply(reply);
                    }
                    std::this_thread::sleep_for(pause);
                }
                return false;
            };
            Json hello = me;
            hello["request"] = "group_data";
            hello["group_size"] = nodes;
            const bool grouped = poll(frame_of(hello), "group_data", Clock::now() + give_up);
            polls[static_cast<std::size_t>(i)] = 0;  // the figures are the sync's
            mine = Counts{};
            ready.count_down();
            start_latch.wait();
            if (!grouped) return;
            Json sync = me;
            sync["request"] = "lava_sync";
            sync["messageID"] = "bench";
            if (poll(frame_of(sync), "ack", start + give_up)) {
                released[static_cast<std::size_t>(i)] =
                    std::chrono::duration<double>(Clock::now() - start).count();
            }
        });
    }
    ready.arrive_and_wait();
    start = Clock::now();
    start_latch.count_down();
    for (auto& t : threads) t.join();
    Counts total;
    for (const auto& c : counts) total.merge(c);
    long all_polls = 0;
    for (long p : polls) all_polls += p;
    const auto not_released = std::count(released.begin(), released.end(), -1.0);
    Json out = total.json();
    out["mode"] = "sync";
    out["nodes"] = nodes;
    out["poll_delay_ms"] = poll_delay_ms;
    out["released"] = nodes - not_released;
    out["all_released_s"] =
        not_released ? -1.0 : *std::max_element(released.begin(), released.end());
    out["first_released_s"] = not_released == nodes ? -1.0 : [&] {
        double first = 1e9;
        for (double r : released) {
            if (r >= 0) first = std::min(first, r);
        }
        return first;
    }();
    out["sync_requests"] = all_polls;
    std::printf("%s\n", out.dump().c_str());
    return not_released ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app("lava-bench-coordinator: LAVA-client-like load on a lava-coordinator");
    app.require_subcommand(1);
    int port = 3079;
    int timeout_ms = 10000;
    int clients = 8;
    double seconds = 5;
    int nodes = 100;
    int poll_delay_ms = 100;
    double give_up_s = 120;
    app.add_option("--port", port, "the coordinator's port")->required();
    app.add_option("--timeout-ms", timeout_ms,
                   "a request with no reply by then counts as timed out");
    auto* send = app.add_subcommand("send", "lava_send throughput and latency");
    send->add_option("--clients", clients, "concurrent clients (groups of 4)");
    send->add_option("--seconds", seconds, "how long");
    auto* sync = app.add_subcommand("sync", "time for an N-node lava_sync to release every node");
    sync->add_option("--nodes", nodes, "group size");
    sync->add_option("--poll-delay-ms", poll_delay_ms, "pause after a wait before polling again");
    sync->add_option("--give-up-s", give_up_s, "stop waiting after this long (per phase)");
    CLI11_PARSE(app, argc, argv);
    if (send->parsed()) return run_send(port, clients, seconds, timeout_ms);
    return run_sync(port, nodes, poll_delay_ms, timeout_ms, give_up_s);
}
