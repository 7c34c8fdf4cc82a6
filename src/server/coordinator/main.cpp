// lava-coordinator: MultiNode message relay for the groups of a lab (TCP 3079).

#include "common/base/notify.hpp"
#include "common/base/stop_signals.hpp"
#include "common/config/settings.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/net/metrics_endpoint.hpp"
#include "server/coordinator/cli.hpp"
#include "server/coordinator/server.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>

int main(int argc, char** argv) {
    using namespace lava;
    namespace coord = server::coordinator;
    constexpr const char* kProgram = "lava-coordinator";
    CLI::App app("lava-coordinator: relays the messages of MultiNode groups (LAVA's protocol, TCP)", kProgram);
    common::log::LogSettings log_settings;
    coord::CoordinatorSettings settings;
    common::config::SettingsLoader loader(coord::kDefaultConfig);
    common::log::register_settings(loader, log_settings);
    coord::register_settings(loader, settings);
    common::net::MetricsSettings metrics_settings;
    metrics_settings.port = 8005;
    common::net::register_metrics_settings(loader, metrics_settings);
    auto args = coord::translate_lava_flags(argc, argv);
    if (auto code = loader.parse_command_line(app, static_cast<int>(args.size()), args.data(),
                                              std::string("lava-cpp ") + LAVA_CPP_VERSION)) {
        return *code;
    }
    if (auto problem = common::log::init(log_settings)) {
        std::cerr << kProgram << ": error: " << *problem << "\n";
        return 1;
    }
    auto log = common::log::get(kProgram);

    const StopSignals stop_signals;  // before any thread starts
    try {
        common::metrics::Registry metrics;
        common::metrics::add_build_info(metrics, LAVA_CPP_VERSION, LAVA_PROTOCOL_VERSION);
        common::metrics::add_process_metrics(metrics);
        auto hooks = coord::metrics_hooks(metrics);
        common::notify::WatchdogTicker watchdog;
        auto tick = hooks.tick;
        hooks.tick = [tick, &watchdog](std::size_t groups, std::size_t clients) {
            tick(groups, clients);
            watchdog.tick();
        };
        auto options = coord::server_options(settings);
        // The keep-alive comes from the loop's ticks: often enough for any WatchdogSec.
        if (const auto every = common::notify::watchdog_interval()) options.tick = std::min(options.tick, *every);
        coord::Server server(std::move(options), std::move(hooks));
        common::net::MetricsEndpoint endpoint(metrics, metrics_settings.bind,
                                              static_cast<std::uint16_t>(metrics_settings.port),
                                              [] { return std::optional<std::string>(); });

        const auto stopper = stop_signals.wait([&](int signo) {
            log->info("signal {}: stopping", signo);
            server.stop();
        });
        log->info("lava-coordinator {} listening on {}:{} (settings: {})", LAVA_CPP_VERSION, settings.bind,
                  server.port(), loader.file_read().empty() ? "defaults" : loader.file_read());
        log->info("metrics on http://{}:{}/metrics", metrics_settings.bind, endpoint.port());
        common::notify::ready("listening on port " + std::to_string(server.port()));
        server.run();
        common::notify::stopping();
        log->info("lava-coordinator stopped");
        return 0;
    } catch (const std::exception& e) {
        std::cerr << kProgram << ": error: " << e.what() << "\n";
        return 1;
    }
}
