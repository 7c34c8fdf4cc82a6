// lava-publisher: LAVA's event fan-out (ZMQ PULL in; ZMQ PUB and WebSocket out).

#include "common/async/blocking.hpp"
#include "common/base/limits.hpp"
#include "common/base/notify.hpp"
#include "common/base/stop_signals.hpp"
#include "common/base/text.hpp"
#include "common/config/settings.hpp"
#include "common/db/pool.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/net/http.hpp"
#include "common/net/metrics_endpoint.hpp"
#include "server/publisher/fanout.hpp"
#include "server/publisher/publisher.hpp"
#include "server/store/schema.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <thread>

int main(int argc, char** argv) {
    using namespace lava;
    constexpr const char* kProgram = "lava-publisher";
    CLI::App app("lava-publisher: LAVA's event fan-out (ZMQ PULL in; ZMQ PUB and WebSocket out)", kProgram);
    common::log::LogSettings log_settings;
    common::db::DbSettings db_settings;
    db_settings.pool_size = 2;
    server::publisher::PublisherSettings settings;
    std::string ws_bind = "0.0.0.0";
    int ws_port = 8001;
    int ws_queue_limit = 1000;
    int ws_ping_s = 30;
    common::config::SettingsLoader loader("/etc/lava-server/publisher.yaml");
    common::log::register_settings(loader, log_settings);
    common::db::register_settings(loader, db_settings);
    loader.add("event_socket", &settings.event_socket,
               "ZMQ endpoint events are pushed to (lava-server's and lava-scheduler's event_socket)");
    loader.add("publish_socket", &settings.publish_socket,
               "ZMQ PUB endpoint (every event, unfiltered: keep it on a trusted network)");
    loader.add("publisher_queue_limit", &settings.queue_limit, "Events queued per ZMQ subscriber before it loses some",
               1, 10000000);
    loader.add("websocket_bind", &ws_bind, "Address the WebSocket server listens on");
    loader.add("websocket_port", &ws_port, "WebSocket port, path /ws/ (0: any free port, printed at start)", 0,
               65535);
    loader.add("websocket_queue_limit", &ws_queue_limit,
               "Events queued per WebSocket client; a client that falls this far behind is disconnected", 1,
               10000000);
    loader.add("websocket_ping_s", &ws_ping_s, "Seconds between pings to a quiet WebSocket client", 1, 3600);
    std::string ui_origins;
    loader.add("ui_origins", &ui_origins,
               "Origins (comma-separated, e.g. https://lava.example.com) whose pages may open a WebSocket with "
               "the web UI's session cookie (empty: the server's own host)");
    common::net::MetricsSettings metrics_settings;
    metrics_settings.port = 8003;
    common::net::register_metrics_settings(loader, metrics_settings);
    InputLimits input_limits;
    common::config::register_input_limits(loader, input_limits);
    if (auto code = loader.parse_command_line(app, argc, argv, std::string("lava-cpp ") + LAVA_CPP_VERSION)) {
        return *code;
    }
    set_input_limits(input_limits);
    if (auto problem = common::log::init(log_settings)) {
        std::cerr << kProgram << ": error: " << *problem << "\n";
        return 1;
    }
    auto log = common::log::get(kProgram);

    const StopSignals stop_signals;  // before any thread starts
    try {
        server::publisher::Publisher publisher(settings);
        common::db::Pool db(db_settings.database, static_cast<std::size_t>(db_settings.pool_size));
        common::async::BlockingPool blocking(1);
        common::net::HttpServerOptions http;
        http.address = ws_bind;
        http.port = static_cast<std::uint16_t>(ws_port);
        http.threads = 1;
        http.body_limit = 64 * 1024;
        http.server_name = "lava-publisher";
        common::net::HttpServer server(http, [](common::net::HttpRequest request)
                                                 -> boost::asio::awaitable<common::net::HttpResponse> {
            co_return server::publisher::Fanout::http(request);
        });
        common::net::WebSocketOptions limits;
        limits.queue_limit = static_cast<std::size_t>(ws_queue_limit);
        limits.ping_interval = std::chrono::seconds(ws_ping_s);
        server::publisher::Fanout fanout(db, blocking, server, limits, split(ui_origins, ',', false));

        common::metrics::Registry metrics;
        common::metrics::add_build_info(metrics, LAVA_CPP_VERSION, LAVA_PROTOCOL_VERSION);
        common::metrics::add_process_metrics(metrics);
        common::db::add_pool_metrics(metrics, db);
        auto& received = metrics.counter("lava_publisher_events_received_total",
                                         "Events received from lava-server and lava-scheduler, by topic", {"topic"});
        auto& to_websockets = metrics.counter("lava_publisher_websocket_messages_total",
                                              "Event messages queued for WebSocket clients (one per client per event)")
                                  .with();
        auto& ws_clients = metrics.gauge("lava_publisher_websocket_clients", "Open WebSocket clients").with();
        auto& overflows = metrics.counter("lava_publisher_websocket_overflows_total",
                                          "WebSocket clients disconnected because they fell behind (queue limit)")
                              .with();
        metrics.on_collect([&server, &ws_clients, &overflows] {
            ws_clients.set(static_cast<double>(server.websocket_clients()));
            overflows.set_total(static_cast<double>(server.websocket_overflows()));
        });
        common::net::MetricsEndpoint endpoint(metrics, metrics_settings.bind,
                                              static_cast<std::uint16_t>(metrics_settings.port),
                                              [&db] { return server::store::readiness_problem(db, kProgram); });

        std::thread websockets([&server] { server.run(); });
        // The WebSocket thread ends however run() ends (a signal, or an exception).
        struct Join {
            std::thread& websockets;
            common::net::HttpServer& server;
            ~Join() {
                server.stop();
                websockets.join();
            }
        } join{websockets, server};
        const auto stopper = stop_signals.wait([&](int signo) {
            log->info("signal {}: stopping", signo);
            publisher.stop();
            server.stop();
        });
        log->info("lava-publisher {} receiving on {}, publishing on {} and ws://{}:{}/ws/", LAVA_CPP_VERSION,
                  publisher.input_endpoint(), publisher.output_endpoint(), ws_bind, server.port());
        common::notify::ready("publishing on " + publisher.output_endpoint() + " and ws://" + ws_bind + ":" +
                              std::to_string(server.port()) + "/ws/");
        log->info("metrics on http://{}:{}/metrics", metrics_settings.bind, endpoint.port());
        const auto forwarded = publisher.run([&](const proto::Event& e) {
            const auto dot = e.topic.rfind('.');
            received.with({dot == std::string::npos ? e.topic : e.topic.substr(dot + 1)}).inc();
            to_websockets.inc(static_cast<double>(fanout.deliver(e)));
        });
        common::notify::stopping();
        log->info("lava-publisher stopped ({} events forwarded)", forwarded);
        return 0;
    } catch (const std::exception& e) {
        std::cerr << kProgram << ": error: " << e.what() << "\n";
        return 1;
    }
}
