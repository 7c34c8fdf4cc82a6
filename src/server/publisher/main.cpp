// lava-publisher: LAVA's event fan-out (ZMQ PULL in, ZMQ PUB out).

#include "common/config/settings.hpp"
#include "common/log/log.hpp"
#include "server/publisher/publisher.hpp"

#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>

namespace {

lava::server::publisher::Publisher* g_publisher = nullptr;

extern "C" void on_signal(int) {
    if (g_publisher) g_publisher->stop();
}

}  // namespace

int main(int argc, char** argv) {
    using namespace lava;
    constexpr const char* kProgram = "lava-publisher";
    CLI::App app("lava-publisher: LAVA's event fan-out (ZMQ PULL in, ZMQ PUB out)", kProgram);
    common::log::LogSettings log_settings;
    server::publisher::PublisherSettings settings;
    common::config::SettingsLoader loader("/etc/lava-server/publisher.yaml");
    common::log::register_settings(loader, log_settings);
    loader.add("event_socket", &settings.event_socket,
               "ZMQ endpoint events are pushed to (lava-server's and lava-scheduler's event_socket)");
    loader.add("publish_socket", &settings.publish_socket, "ZMQ PUB endpoint subscribers connect to");
    loader.add("publisher_queue_limit", &settings.queue_limit, "Events queued per subscriber before it loses some",
               1, 10000000);
    loader.attach(app);
    app.set_version_flag("--version", std::string("lava-cpp ") + LAVA_CPP_VERSION);
    try {
        app.parse(argc, argv);
        loader.load();
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const common::config::ConfigError& e) {
        std::cerr << kProgram << ": error: " << e.what() << "\n";
        return 2;
    }
    common::log::init(log_settings);
    auto log = common::log::get(kProgram);
    try {
        server::publisher::Publisher publisher(settings);
        g_publisher = &publisher;
        struct sigaction action {};
        action.sa_handler = on_signal;
        sigemptyset(&action.sa_mask);
        sigaction(SIGTERM, &action, nullptr);
        sigaction(SIGINT, &action, nullptr);
        log->info("lava-publisher {} receiving on {}, publishing on {}", LAVA_CPP_VERSION,
                  publisher.input_endpoint(), publisher.output_endpoint());
        const auto forwarded = publisher.run();
        g_publisher = nullptr;
        log->info("lava-publisher stopped ({} events forwarded)", forwarded);
        return 0;
    } catch (const std::exception& e) {
        std::cerr << kProgram << ": error: " << e.what() << "\n";
        return 1;
    }
}
