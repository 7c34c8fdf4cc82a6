#pragma once
// A daemon's /metrics (Prometheus), /healthz (alive) and /readyz (can do its
// work: database reachable, schema current). lava-server routes them on its
// own HTTP port with the answers below; lava-scheduler, lava-publisher and
// lava-worker serve them on a small listener of their own (metrics_bind,
// metrics_port; loopback by default).

#include "common/net/http.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace lava::common::metrics {
class Registry;
}
namespace lava::common::config {
class SettingsLoader;
}

namespace lava::common::net {

// Where a daemon's own listener serves them. The daemon sets its default
// port before registering (lava-scheduler 8002, lava-publisher 8003).
struct MetricsSettings {
    std::string bind = "127.0.0.1";
    int port = 0;
};
// metrics_bind and metrics_port.
void register_metrics_settings(config::SettingsLoader& loader, MetricsSettings& settings);

// nullopt when ready, else why not (one line). May block (a query): it runs
// off the I/O thread.
using ReadyCheck = std::function<std::optional<std::string>()>;

HttpResponse metrics_answer(metrics::Registry& registry);
HttpResponse healthz_answer();
HttpResponse readyz_answer(const std::optional<std::string>& problem);

// The three endpoints on their own listener: one I/O thread, one thread for
// the readiness check. Serves from construction to destruction.
class MetricsEndpoint {
public:
    MetricsEndpoint(metrics::Registry& registry, const std::string& bind, std::uint16_t port, ReadyCheck ready);
    ~MetricsEndpoint();
    MetricsEndpoint(const MetricsEndpoint&) = delete;
    MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

    std::uint16_t port() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace lava::common::net
