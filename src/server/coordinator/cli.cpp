#include "server/coordinator/cli.hpp"

#include "common/config/settings.hpp"
#include "common/metrics/metrics.hpp"

#include <algorithm>
#include <array>
#include <memory>
#include <cctype>
#include <deque>
#include <string_view>

namespace lava::server::coordinator {

void register_settings(common::config::SettingsLoader& loader, CoordinatorSettings& settings) {
    loader.add("port", &settings.port, "TCP port the coordinator listens on, and lava-run connects to", 0, 65535);
    loader.add("blocksize", &settings.blocksize, "Read size of LAVA's clients (kept for LAVA's file; unused here)", 1,
               1 << 20);
    loader.add("poll_delay", &settings.poll_delay,
               "Seconds between a waiting client's polls (read by lava-run from this file)", 1, 3600);
    loader.add("coordinator_hostname", &settings.coordinator_hostname,
               "Host lava-run connects to (read by lava-run from this file)");
    loader.add("bind", &settings.bind, "Address the coordinator listens on");
    loader.add("client_timeout_s", &settings.client_timeout_s,
               "Seconds a connection has to send its whole request before it is closed", 1, 3600);
    loader.add("max_message_bytes", &settings.max_message_bytes,
               "Largest request accepted (LAVA's clients send at most 65534 bytes)", 64, 64 << 20);
    loader.add("group_timeout_s", &settings.group_timeout_s,
               "Seconds after its last request that a group whose nodes never cleared it is forgotten (longer than "
               "your longest MultiNode job's quiet spell)",
               60, 365 * 86400);
}

ServerOptions server_options(const CoordinatorSettings& settings) {
    ServerOptions o;
    o.bind = settings.bind;
    o.port = static_cast<std::uint16_t>(settings.port);
    o.client_timeout = std::chrono::seconds(settings.client_timeout_s);
    o.max_message = static_cast<std::size_t>(settings.max_message_bytes);
    o.group_timeout = std::chrono::seconds(settings.group_timeout_s);
    return o;
}

std::vector<char*> translate_lava_flags(int argc, char** argv) {
    static std::deque<std::string> storage;  // stable addresses for argv
    std::vector<char*> out;
    auto push = [&](std::string s) {
        storage.push_back(std::move(s));
        out.push_back(storage.back().data());
    };
    auto level = [](std::string v) {
        std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
        return v == "warn" ? std::string("warning") : v;
    };
    for (int i = 0; i < argc; ++i) {
        std::string_view arg = argv[i];
        std::string value;
        bool has_value = false;
        std::string_view flag = arg;
        if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string_view::npos) {
            flag = arg.substr(0, eq);
            value = std::string(arg.substr(eq + 1));
            has_value = true;
        }
        const bool known = flag == "--config" || flag == "--loglevel" || flag == "-l" || flag == "--logfile";
        if (i == 0 || !known) {
            out.push_back(argv[i]);
            continue;
        }
        if (!has_value) {
            if (i + 1 >= argc) {
                out.push_back(argv[i]);  // let the parser say what is missing
                continue;
            }
            value = argv[++i];
        }
        if (flag == "--config") {
            push("--settings");
            push(value);
        } else if (flag == "--logfile") {
            push("--log-file");
            push(value == "-" ? std::string() : value);
        } else {
            push("--log-level");
            push(level(value));
        }
    }
    out.push_back(nullptr);
    out.pop_back();
    return out;
}

ServerHooks metrics_hooks(common::metrics::Registry& registry) {
    auto& requests = registry.counter("lava_coordinator_requests_total",
                                      "Requests answered, by request and reply (reply \"\": closed without one)",
                                      {"request", "response"});
    auto& dropped = registry.counter("lava_coordinator_connections_dropped_total",
                                     "Connections closed without a request, by reason (timeout, closed, bad_header, "
                                     "too_large, bad_json)",
                                     {"reason"});
    auto& groups = registry.gauge("lava_coordinator_groups", "MultiNode groups the coordinator keeps").with();
    auto& clients = registry.gauge("lava_coordinator_clients", "Nodes registered in those groups").with();
    ServerHooks hooks;
    // Only LAVA's request names become labels, so a client cannot grow the
    // series; the children are looked up once (the hook runs per request,
    // on the I/O thread only).
    static constexpr std::string_view kRequests[] = {"group_data", "clear_group", "aggregate", "lava_sync",
                                                     "lava_wait_all", "lava_wait", "lava_send", "complete", "other"};
    static constexpr std::string_view kResponses[] = {"ack", "nack", "wait", "group_data", ""};
    constexpr std::size_t kR = std::size(kRequests), kS = std::size(kResponses);
    auto children = std::make_shared<std::array<common::metrics::Counter*, kR * kS>>();
    children->fill(nullptr);
    hooks.request = [&requests, children](const Reply& reply) {
        const auto r = static_cast<std::size_t>(
            std::find(std::begin(kRequests), std::end(kRequests) - 1, reply.request) - std::begin(kRequests));
        const auto s = static_cast<std::size_t>(
            std::find(std::begin(kResponses), std::end(kResponses), reply.response) - std::begin(kResponses));
        if (s == kS) return;  // not a reply of the protocol
        auto*& child = (*children)[r * kS + s];
        if (child == nullptr) child = &requests.with({std::string(kRequests[r]), std::string(kResponses[s])});
        child->inc();
    };
    hooks.dropped = [&dropped](std::string_view reason) { dropped.with({std::string(reason)}).inc(); };
    hooks.tick = [&groups, &clients](std::size_t g, std::size_t c) {
        groups.set(static_cast<double>(g));
        clients.set(static_cast<double>(c));
    };
    return hooks;
}

}  // namespace lava::server::coordinator
