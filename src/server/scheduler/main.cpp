// lava-scheduler: assigns Submitted jobs to devices (lava-protocols.md §9.3),
// woken by lava-publisher's events, with a timer as a safety net. One is
// active at a time (a PostgreSQL advisory lock); others wait as hot standby.

#include "common/base/limits.hpp"
#include "common/config/settings.hpp"
#include "common/db/pool.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/net/metrics_endpoint.hpp"
#include "server/events/events.hpp"
#include "server/scheduler/daemon.hpp"
#include "server/store/schema.hpp"

#include <CLI/CLI.hpp>

#include <iostream>

int main(int argc, char** argv) {
    using namespace lava;
    constexpr const char* kProgram = "lava-scheduler";
    CLI::App app("lava-scheduler: assigns Submitted jobs to devices, event-driven", kProgram);
    common::log::LogSettings log_settings;
    common::db::DbSettings db_settings;
    db_settings.pool_size = 2;
    server::scheduler::DaemonSettings settings;
    common::config::SettingsLoader loader("/etc/lava-server/scheduler.yaml");
    common::log::register_settings(loader, log_settings);
    common::db::register_settings(loader, db_settings);
    loader.add("dispatcher_config", &settings.scheduler.dispatcher_config,
               "Root of health-checks/<device type>.yaml and devices/<hostname>.jinja2");
    loader.add("worker_timeout_s", &settings.scheduler.worker_timeout_s,
               "Seconds without a ping before an Online worker goes Offline", 1, 86400);
    loader.add("event_socket", &settings.event_socket, "ZMQ endpoint of lava-publisher's input (events pushed)");
    loader.add("events_url", &settings.events_url, "lava-publisher's ZMQ PUB, whose events wake the scheduler");
    loader.add("event_topic", &settings.event_topic, "Topic prefix of events");
    loader.add("interval_s", &settings.interval_s, "Seconds between passes when no event wakes it", 1, 3600);
    loader.add("standby_poll_ms", &settings.standby_poll_ms,
               "How often a standby scheduler tries to become the active one (ms)", 10, 60000);
    common::net::MetricsSettings metrics_settings;
    metrics_settings.port = 8002;
    common::net::register_metrics_settings(loader, metrics_settings);
    InputLimits limits;
    common::config::register_input_limits(loader, limits);
    if (auto code = loader.parse_command_line(app, argc, argv, std::string("lava-cpp ") + LAVA_CPP_VERSION)) {
        return *code;
    }
    set_input_limits(limits);
    if (auto problem = common::log::init(log_settings)) {
        std::cerr << kProgram << ": error: " << *problem << "\n";
        return 1;
    }
    try {
        common::db::Pool pool(db_settings.database, static_cast<std::size_t>(db_settings.pool_size));
        {
            auto lease = pool.acquire();
            if (auto ok = server::store::require_schema(lease->raw(), kProgram); !ok) {
                std::cerr << kProgram << ": error: " << ok.error().message << "\n";
                return 1;
            }
        }
        common::metrics::Registry metrics;
        common::metrics::add_build_info(metrics, LAVA_CPP_VERSION, LAVA_PROTOCOL_VERSION);
        common::metrics::add_process_metrics(metrics);
        common::db::add_pool_metrics(metrics, pool);
        common::net::MetricsEndpoint endpoint(metrics, metrics_settings.bind,
                                              static_cast<std::uint16_t>(metrics_settings.port),
                                              [&pool] { return server::store::readiness_problem(pool, kProgram); });
        common::log::get(kProgram)->info("metrics on http://{}:{}/metrics", metrics_settings.bind, endpoint.port());
        return server::scheduler::run_daemon(settings, db_settings.database, pool, metrics);
    } catch (const std::exception& e) {
        std::cerr << kProgram << ": error: " << common::db::first_line(e.what()) << "\n";
        return 1;
    }
}
