#include "server/web/settings.hpp"

#include "common/config/settings.hpp"

namespace lava::server::web {

void register_settings(common::config::SettingsLoader& loader, WebSettings& s) {
    loader.add("bind", &s.bind, "Address lava-server serve listens on");
    loader.add("port", &s.port, "HTTP port (0: any free port, printed at start)", 0, 65535);
    loader.add("http_threads", &s.http_threads, "HTTP I/O threads (0: one per core)", 0, 256);
    loader.add("blocking_threads", &s.blocking_threads, "Threads for database and file work", 1, 256);
    loader.add("body_limit_mb", &s.body_limit_mb, "Largest request body accepted (MB)", 1, 4096);
    loader.add("dispatcher_config", &s.dispatcher_config,
               "Root of devices/, device-types/, health-checks/ (LAVA's layout)");
    loader.add("device_template_dirs", &s.device_template_dirs,
               "More device-type template directories, colon-separated");
    loader.add("worker_config_dir", &s.worker_config_dir,
               "Per-worker dispatcher.yaml, env.yaml, env-dut.yaml (LAVA's dispatcher.d)");
    loader.add("env_dir", &s.env_dir, "Directory of the lab-wide env.yaml and env-dut.yaml");
    loader.add("job_output", &s.job_output, "Root of the job logs (LAVA's job-output layout)");
    loader.add("event_socket", &s.event_socket, "ZMQ endpoint of lava-publisher's input");
    loader.add("event_topic", &s.event_topic, "Topic prefix of events");
    loader.add("publisher_url", &s.publisher_url,
               "lava-publisher's ZMQ PUB address as clients reach it (LAVA's EVENT_SOCKET)");
    loader.add("websocket_upstream", &s.websocket_upstream,
               "host:port of lava-publisher's WebSocket server, which /ws/ is relayed to (empty: none)");
    loader.add("strict_submission", &s.strict_submission,
               "Validate submitted jobs with LAVA's strict schema (false: lenient)");
    loader.add("extra_context_variables", &s.extra_context_variables,
               "More allowed job context variables, comma-separated");
    loader.add("worker_auto_register", &s.worker_auto_register, "Let workers register themselves");
    loader.add("worker_auto_register_netmask", &s.worker_auto_register_netmask,
               "Networks workers may auto-register from, comma-separated");
    loader.add("trusted_proxies", &s.trusted_proxies,
               "Reverse proxies whose X-Forwarded-For is believed, comma-separated networks (empty: none)");
    loader.add("response_cache_ms", &s.response_cache_ms,
               "How long a REST read may be served again from memory (0: never)", 0, 60000);
    loader.add("session_age_s", &s.session_age_s, "Lifetime of a browser session (seconds)", 60,
               365 * 24 * 3600);
    loader.add("session_cookie_secure", &s.session_cookie_secure,
               "Send the session and CSRF cookies over HTTPS only");
    loader.add("ui_dir", &s.ui_dir,
               "Serve the web UI's templates and static files from this directory (empty: the built-in ones)");
    loader.add("allow_version_mismatch", &s.allow_version_mismatch,
               "Serve workers whose version differs from 2023.01");
}

}  // namespace lava::server::web
