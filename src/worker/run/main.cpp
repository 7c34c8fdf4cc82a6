// lava-run: runs one LAVA job on one device (lava-protocols.md §2.1).
#include "common/base/file.hpp"
#include "common/base/text.hpp"
#include "worker/run/job.hpp"

#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <iostream>

namespace {

std::atomic<bool> g_canceled{false};
std::atomic<int> g_signal{0};
std::atomic<int> g_count{0};
int g_pipe[2] = {-1, -1};

void on_signal(int sig) {
    g_signal.store(sig);
    g_count.fetch_add(1);
    g_canceled.store(true);
    (void)!::write(g_pipe[1], "x", 1);
}

}  // namespace

int main(int argc, char** argv) {
    lava::worker::run::RunOptions options;
    options.version = LAVA_CPP_VERSION;
    CLI::App app{"lava-run: run a LAVA job on a device", "lava-run"};
    app.set_version_flag("--version", std::string("lava-run (lava-cpp) ") + LAVA_CPP_VERSION);
    app.add_option("definition", options.job_file, "The job definition (YAML)")->required();
    app.add_option("--device", options.device_file, "The rendered device configuration (YAML)")->required();
    app.add_option("--dispatcher", options.dispatcher_file, "The dispatcher configuration (YAML)");
    app.add_option("--env-dut", options.env_dut_file, "Environment for the DUT (YAML)");
    app.add_option("--output-dir", options.output_dir, "Where logs.yaml, result.yaml and description.yaml go")->required();
    app.add_option("--job-id", options.job_id, "The job id")
        ->check([](const std::string& id) -> std::string {
            // It names the job's temporary directory, which is removed at the end.
            const bool ok = !id.empty() && id != "." && id != ".." &&
                            id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
                                std::string::npos;
            return ok ? std::string() : "a job id is letters, digits, '.', '_' and '-' only";
        });
    app.add_option("--url", options.url, "The server to send the log to (else: stderr)");
    auto* token = app.add_option("--token", options.token, "The job's token for the server (visible to ps: prefer --token-file)");
    std::string token_file;
    app.add_option("--token-file", token_file, "A file holding the job's token (lava-cpp; what lava-worker uses)")
        ->check(CLI::ExistingFile)
        ->excludes(token);
    app.add_option("--job-log-interval", options.job_log_interval, "Seconds between log uploads")->check(CLI::PositiveNumber);
    app.add_option("--tmp-dir", options.tmp_root, "Where the job's temporary files go (a directory per job)");
    app.add_option("--coordinator-config", options.coordinator_config,
                   "MultiNode: lava-coordinator's settings (LAVA's JSON file)");
    app.add_option("--tftp-dir", options.tftp_dir,
                   "deploy to: tftp: the TFTP server's directory (default: TFTP_DIRECTORY in /etc/default/tftpd-hpa)");
    app.add_flag("--validate", options.validate_only, "Validate the job and write description.yaml; run nothing");
    bool debug = false, skip_sudo_warning = false;
    app.add_flag("--debug", debug, "Accepted for LAVA compatibility");
    app.add_flag("--skip-sudo-warning", skip_sudo_warning, "Accepted for LAVA compatibility");
    CLI11_PARSE(app, argc, argv);
    if (!token_file.empty()) {
        const auto text = lava::read_file(token_file);
        if (!text) {
            std::cerr << "lava-run: cannot read " << token_file << "\n";
            return 1;
        }
        options.token = std::string(lava::trim(*text));
    }

    if (::pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        std::cerr << "lava-run: pipe: " << std::strerror(errno) << "\n";
        return 1;
    }
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (const int sig : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2}) ::sigaction(sig, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    const lava::worker::run::Cancellation cancellation{
        g_canceled, g_pipe[0],
        [] {
            const int sig = g_signal.load();
            if (sig == SIGUSR1) return std::string("The job was canceled: the server no longer knows it");
            const char* name = sigabbrev_np(sig);
            return std::string("Received signal SIG") + (name ? name : std::to_string(sig));
        },
        [] { return g_count.load(); }};
    return lava::worker::run::run_job(options, cancellation);
}
