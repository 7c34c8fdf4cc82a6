#include "server/web/serve.hpp"

#include "common/async/blocking.hpp"
#include "common/base/notify.hpp"
#include "common/db/pool.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/net/http.hpp"
#include "server/store/schema.hpp"
#include "server/web/app.hpp"

namespace lava::server::web {

int serve(const ServerSettings& settings, std::ostream& err) {
    auto log = common::log::get("lava-server");
    const auto& web = settings.web;
    try {
        common::db::Pool pool(settings.db.database, static_cast<std::size_t>(settings.db.pool_size));
        {
            auto lease = pool.acquire();
            if (auto ok = store::require_schema(lease->raw(), "lava-server"); !ok) {
                err << "lava-server: error: " << ok.error().message << "\n";
                return 1;
            }
        }
        common::async::BlockingPool blocking(static_cast<std::size_t>(web.blocking_threads));
        App app(settings, pool, blocking);
        common::metrics::add_build_info(app.metrics(), LAVA_CPP_VERSION, LAVA_PROTOCOL_VERSION);
        common::metrics::add_process_metrics(app.metrics());
        common::db::add_pool_metrics(app.metrics(), pool);
        common::net::HttpServerOptions options;
        options.address = web.bind;
        options.port = static_cast<std::uint16_t>(web.port);
        options.threads = static_cast<std::size_t>(web.http_threads);
        options.body_limit = static_cast<std::size_t>(web.body_limit_mb) * 1024 * 1024;
        if (!web.websocket_upstream.empty()) {
            options.upgrade_upstream = [upstream = web.websocket_upstream](const common::net::HttpRequest& r)
                -> std::optional<std::string> {
                if (r.path == "/ws" || r.path.rfind("/ws/", 0) == 0) return upstream;
                return std::nullopt;
            };
        }
        common::net::HttpServer server(options, [&app](common::net::HttpRequest r) { return app.handle(std::move(r)); });
        server.stop_on_signals();
        // The bound port on stdout, so a supervisor (or tools/lab) can use port 0.
        log->info("lava-server {} (LAVA protocol {}) listening on http://{}:{}/", LAVA_CPP_VERSION,
                  LAVA_PROTOCOL_VERSION, web.bind, server.port());
        // systemd: started once it listens (the schema was checked above),
        // and the watchdog fed by the event loop itself.
        server.keep_watchdog();
        common::notify::ready("serving on http://" + web.bind + ":" + std::to_string(server.port()) + "/");
        server.run();
        common::notify::stopping();
        blocking.join();
        log->info("lava-server stopped");
        return 0;
    } catch (const pqxx::broken_connection& e) {
        err << "lava-server: error: cannot connect to PostgreSQL: " << common::db::first_line(e.what()) << "\n";
    } catch (const std::exception& e) {
        err << "lava-server: error: " << e.what() << "\n";
    }
    return 1;
}

}  // namespace lava::server::web
