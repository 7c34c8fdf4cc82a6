#pragma once
// lava-server's settings for `serve` (plus the shared log and db ones).

#include "common/base/limits.hpp"
#include "common/db/pool.hpp"
#include "common/log/log.hpp"

#include <string>

namespace lava::common::config {
class SettingsLoader;
}

namespace lava::server::web {

struct WebSettings {
    std::string bind = "127.0.0.1";
    int port = 8000;
    int http_threads = 0;  // 0: one per core
    int blocking_threads = 4;
    int body_limit_mb = 64;
    std::string dispatcher_config = "/etc/lava-server/dispatcher-config";
    // Colon-separated device-type template directories searched after
    // <dispatcher_config>/device-types (lava-cpp's shipped templates, LAVA's).
    std::string device_template_dirs = "/usr/share/lava-cpp/device-types:/usr/share/lava-server/device-types";
    std::string worker_config_dir = "/etc/lava-server/dispatcher.d";
    std::string env_dir = "/etc/lava-server";
    std::string job_output = "/var/lib/lava-server/default/media/job-output";
    std::string event_socket = "ipc:///tmp/lava.events";  // LAVA's INTERNAL_EVENT_SOCKET
    std::string event_topic = "org.lavasoftware";
    // Where clients subscribe to events: lava-publisher's ZMQ PUB as they
    // reach it (LAVA's EVENT_SOCKET; "*" stands for this server's host).
    std::string publisher_url = "tcp://*:5500";
    // Where /ws/ (WebSocket upgrades) is relayed: lava-publisher's
    // WebSocket port, so clients that derive ws://<server>/ws/ from the
    // server's URL (lavacli) reach it. Empty: /ws/ is not served.
    std::string websocket_upstream = "127.0.0.1:8001";
    bool strict_submission = true;  // docs/adr/0005-job-validation.md
    std::string extra_context_variables;  // comma-separated
    bool worker_auto_register = true;
    // Reverse proxies whose X-Forwarded-For is believed (comma-separated
    // networks); empty: the header is ignored and the peer is the client.
    std::string trusted_proxies;
    std::string worker_auto_register_netmask = "127.0.0.0/8,::1";
    bool allow_version_mismatch = false;
    // REST reads answered again from memory for this long unless a write
    // came in between (docs/adr/0006-response-cache.md); 0 disables.
    int response_cache_ms = 500;
    // Browser sessions (the sessionid cookie): lifetime, and whether the
    // cookies carry `Secure` (set it when a TLS proxy is in front).
    int session_age_s = 1209600;  // Django's two weeks
    bool session_cookie_secure = false;
    // The web UI's templates and static files from this directory (laid out
    // as src/server/ui: templates/, static/) instead of the ones built in.
    std::string ui_dir;
};

struct ServerSettings {
    common::log::LogSettings log;
    common::db::DbSettings db;
    WebSettings web;
    InputLimits limits;
};

void register_settings(common::config::SettingsLoader& loader, WebSettings& settings);

}  // namespace lava::server::web
