// lava-worker: runs the jobs the server gives to this worker's devices
// (lava-protocols.md §1.5), with LAVA 2023.01's command line.
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/net/metrics_endpoint.hpp"
#include "worker/worker/worker.hpp"

#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <regex>
#include <thread>

namespace {

std::atomic<bool> g_stop{false};
int g_wake[2] = {-1, -1};

void on_stop(int) {
    g_stop.store(true);
    (void)!::write(g_wake[1], "s", 1);
}

void on_child(int) { (void)!::write(g_wake[1], "c", 1); }

// LAVA's default worker name: the host's fully qualified name, or its plain
// name when the resolver knows no better.
std::string fqdn() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) return "localhost";
    addrinfo hints{};
    hints.ai_flags = AI_CANONNAME;
    addrinfo* found = nullptr;
    std::string name = host;
    if (::getaddrinfo(host, nullptr, &hints, &found) == 0) {
        if (found != nullptr && found->ai_canonname != nullptr) name = found->ai_canonname;
        ::freeaddrinfo(found);
    }
    return name;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace lava::worker::worker;
    WorkerOptions options;
    CLI::App app{"lava-worker: runs this worker's jobs on its devices", "lava-worker"};
    app.set_version_flag("--version", std::string("lava-worker (lava-cpp) ") + LAVA_CPP_VERSION + ", protocol " +
                                          kProtocolVersion);
    app.option_defaults()->always_capture_default();
    std::string level = "INFO", log_file;
    int http_timeout = 600, ping_interval = 20;
    bool debug = false;
    app.add_option("--name", options.name, "This worker's name (default: this host's FQDN)");
    app.add_option("--url", options.url, "The server's URL")->required();
    app.add_option("--ws-url", options.ws_url, "The publisher's WebSocket URL (default: <url>/ws/)");
    auto* token = app.add_option("--token", options.token, "The worker's token (with --username: the user's token)");
    app.add_option("--token-file", options.token_file, "Where the token is kept (default: <worker-dir>/token)")
        ->excludes(token);
    app.add_option("--username", options.username, "Register with this user's credentials");
    app.add_option("--worker-dir", options.worker_dir, "The worker's files and the jobs' directories");
    app.add_option("--http-timeout", http_timeout, "Seconds to wait for the server")->check(CLI::Range(1, 86400));
    app.add_option("--ping-interval", ping_interval, "Seconds between pings")->check(CLI::Range(1, 3600));
    app.add_option("--job-log-interval", options.job_log_interval, "Seconds between log uploads (lava-run)")
        ->check(CLI::Range(1, 3600));
    app.add_option("--log-file", log_file, "Write the log here instead of stderr (reopened on SIGHUP)");
    app.add_option("--level", level, "DEBUG, INFO, WARN or ERROR")
        ->check(CLI::IsMember({"DEBUG", "INFO", "WARN", "ERROR"}, CLI::ignore_case));
    app.add_flag("--debug", debug, "Same as --level DEBUG");
    app.add_flag("--exit-on-version-mismatch", options.exit_on_version_mismatch, "Exit when the server's version differs");
    app.add_flag("--wait-jobs", options.wait_jobs, "On SIGTERM/SIGINT, wait for the running jobs to end");
    app.add_option("--coordinator-config", options.coordinator_config,
                   "MultiNode: lava-coordinator's settings file, for lava-run (LAVA's path and JSON format)");
    app.add_option("--tftp-dir", options.tftp_dir,
                   "Real boards: the TFTP server's directory, for lava-run (default: TFTP_DIRECTORY in /etc/default/tftpd-hpa)");
    app.add_option("--lava-run", options.lava_run, "The lava-run program (default: next to lava-worker)");
    std::string metrics_bind = "127.0.0.1";
    int metrics_port = 8004;
    app.add_option("--metrics-bind", metrics_bind, "Address of the /metrics, /healthz and /readyz listener")
        ->envname("LAVA_METRICS_BIND");
    app.add_option("--metrics-port", metrics_port, "Port of that listener (0: any free port)")
        ->envname("LAVA_METRICS_PORT")
        ->check(CLI::Range(0, 65535));
    CLI11_PARSE(app, argc, argv);

    if (options.name.empty()) options.name = fqdn();
    if (!std::regex_match(options.name, std::regex("[-_a-zA-Z0-9.]+"))) {
        std::cerr << "lava-worker: --name must match [-_a-zA-Z0-9.]+\n";
        return 2;
    }
    lava::common::log::LogSettings log_settings;
    for (auto& c : level) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    log_settings.level = debug ? "debug" : level == "warn" ? "warning" : level;
    log_settings.file = log_file;
    if (auto problem = lava::common::log::init(log_settings)) {
        std::cerr << "lava-worker: error: " << *problem << "\n";
        return 1;
    }

    options.http_timeout = std::chrono::seconds(http_timeout);
    options.ping_interval = std::chrono::seconds(ping_interval);
    while (!options.url.empty() && options.url.back() == '/') options.url.pop_back();
    if (options.ws_url.empty()) {
        options.ws_url = options.url + "/ws/";
        if (options.ws_url.rfind("http", 0) == 0) options.ws_url.replace(0, 4, "ws");
    }
    if (options.lava_run.empty()) {
        std::error_code ec;
        const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
        const auto beside = self.parent_path() / "lava-run";
        options.lava_run = !ec && std::filesystem::exists(beside) ? beside.string() : "/usr/bin/lava-run";
    }

    if (::pipe2(g_wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        std::perror("lava-worker: pipe");
        return 1;
    }
    struct sigaction sa {};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (const int sig : {SIGTERM, SIGINT}) ::sigaction(sig, &sa, nullptr);
    sa.sa_handler = on_child;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    ::sigaction(SIGCHLD, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    Worker worker(options);
    lava::common::metrics::Registry metrics;
    lava::common::metrics::add_build_info(metrics, LAVA_CPP_VERSION, LAVA_PROTOCOL_VERSION);
    lava::common::metrics::add_process_metrics(metrics);
    worker.instrument(metrics);
    std::unique_ptr<lava::common::net::MetricsEndpoint> endpoint;
    try {
        endpoint = std::make_unique<lava::common::net::MetricsEndpoint>(
            metrics, metrics_bind, static_cast<std::uint16_t>(metrics_port), [&worker] { return worker.ready_problem(); });
    } catch (const std::exception& e) {
        std::cerr << "lava-worker: cannot serve metrics on " << metrics_bind << ":" << metrics_port << ": " << e.what()
                  << "\n";
        return 1;
    }
    lava::common::log::get("worker")->info("metrics on http://{}:{}/metrics", metrics_bind, endpoint->port());
    std::thread events([&] { listen_events(options.ws_url, options.name, [&] { return worker.token(); }, g_wake[1], g_stop); });
    const int rc = worker.run(g_stop, g_wake[0]);
    g_stop.store(true);
    events.join();
    return rc;
}
