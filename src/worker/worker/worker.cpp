#include "worker/worker/worker.hpp"

#include "common/base/notify.hpp"

#include "common/base/file.hpp"
#include "common/client/websocket.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/proto/json.hpp"
#include "common/yaml/load.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

extern char** environ;

namespace lava::worker::worker {

namespace fs = std::filesystem;

namespace {

auto logger() { return common::log::get("worker"); }

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const char* status_name(JobStatus s) {
    switch (s) {
        case JobStatus::kRunning: return "running";
        case JobStatus::kCanceling: return "canceling";
        case JobStatus::kFinished: return "finished";
    }
    return "finished";
}

JobStatus status_of(const std::string& s) {
    if (s == "running") return JobStatus::kRunning;
    if (s == "canceling") return JobStatus::kCanceling;
    return JobStatus::kFinished;
}

// The environment for lava-run from env.yaml (purge, removes, overrides).
std::vector<std::string> job_environment(const std::string& env_yaml, long long id) {
    std::map<std::string, std::string> env;
    bool purge = false;
    common::data::Value doc;
    if (!env_yaml.empty()) {
        if (auto loaded = common::yaml::load(env_yaml)) doc = *loaded;
    }
    if (const auto* p = doc.find("purge")) purge = p->truthy();
    if (!purge) {
        for (char** e = environ; *e; ++e) {
            const std::string entry = *e;
            const auto eq = entry.find('=');
            if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
        }
    }
    if (const auto* removes = doc.find("removes"); removes && removes->is_sequence()) {
        for (const auto& r : removes->as_list()) env.erase(r.str());
    }
    if (const auto* overrides = doc.find("overrides"); overrides && overrides->is_dict()) {
        for (const auto& [k, v] : overrides->as_dict()) env[k.str()] = v.str();
    }
    env["LAVA_JOB_ID"] = std::to_string(id);
    std::vector<std::string> out;
    for (const auto& [k, v] : env) out.push_back(k + "=" + v);
    return out;
}

}  // namespace

struct Worker::Metrics {
    explicit Metrics(common::metrics::Registry& r)
        : running(r.gauge("lava_worker_jobs_running", "Jobs of this worker whose lava-run has not been reported ended")
                      .with()),
          jobs(r.counter("lava_worker_jobs_total", "Jobs whose end this worker reported, by result and error type",
                         {"result", "error_type"})),
          pings(r.counter("lava_worker_pings_total", "Pings to the server, by outcome", {"result"})),
          upload_retries(r.counter("lava_worker_log_upload_retries_total",
                                   "Log uploads lava-run had to try again (server unreachable or failing)")
                             .with()) {}
    common::metrics::Gauge& running;
    common::metrics::Family<common::metrics::Counter>& jobs;
    common::metrics::Family<common::metrics::Counter>& pings;
    common::metrics::Counter& upload_retries;
};

Worker::Worker(WorkerOptions options)
    : options_(std::move(options)), api_(options_.url, options_.name, options_.http_timeout) {
    if (options_.token_file.empty()) options_.token_file = options_.worker_dir + "/token";
}

std::string Worker::token() const {
    std::lock_guard lock(token_mutex_);
    return token_;
}

std::string Worker::job_dir(long long id) const { return options_.worker_dir + "/tmp/" + std::to_string(id); }

// ------------------------------------------------------------ local state

void Worker::save(const LocalJob& job) const {
    nlohmann::json j = {{"id", job.id},          {"token", job.token},
                        {"pid", job.pid},        {"status", status_name(job.status)},
                        {"canceled_at", job.canceled_at}, {"sigterm_again", job.sigterm_again}};
    if (!lava::write_file_atomic(options_.worker_dir + "/jobs/" + std::to_string(job.id) + ".json", j.dump(), 0600)) {
        logger()->error("[{}] cannot save the job's state in {}/jobs", job.id, options_.worker_dir);
    }
}

void Worker::forget(long long id) {
    std::error_code ec;
    fs::remove(options_.worker_dir + "/jobs/" + std::to_string(id) + ".json", ec);
    fs::remove_all(job_dir(id), ec);
    jobs_.erase(id);
}

void Worker::load_jobs() {
    std::error_code ec;
    // The worker directory holds jobs' secrets: this user's only (0700).
    for (const char* sub : {"/jobs", "/tmp", "/run"}) {
        fs::create_directories(options_.worker_dir + sub, ec);
        fs::permissions(options_.worker_dir + sub, fs::perms::owner_all, ec);
    }
    fs::permissions(options_.worker_dir, fs::perms::owner_all, ec);
    for (const auto& entry : fs::directory_iterator(options_.worker_dir + "/jobs", ec)) {
        if (entry.path().extension() != ".json") continue;
        const auto text = read_file(entry.path().string());
        const auto j = proto::parse_json(text ? *text : "");
        if (!j.is_object() || !j.contains("id")) {
            logger()->warn("ignoring unreadable job state {}", entry.path().string());
            continue;
        }
        LocalJob job;
        job.id = j.value("id", 0LL);
        job.token = j.value("token", std::string());
        job.pid = j.value("pid", 0);
        job.status = status_of(j.value("status", std::string("finished")));
        job.canceled_at = j.value("canceled_at", std::int64_t{0});
        job.sigterm_again = j.value("sigterm_again", false);
        jobs_[job.id] = job;
        logger()->info("[{}] found again after a restart ({}, lava-run pid {})", job.id, status_name(job.status), job.pid);
    }
}

// ------------------------------------------------------------ processes

bool Worker::alive(LocalJob& job) {
    if (job.pid <= 0) return false;
    if (job.our_child) {
        int status = 0;
        const pid_t r = ::waitpid(job.pid, &status, WNOHANG);
        if (r == 0) return true;
        job.our_child = false;
        return false;
    }
    // Started by an earlier worker process: still that lava-run?
    if (::kill(job.pid, 0) != 0) return false;
    const auto cmdline = read_file("/proc/" + std::to_string(job.pid) + "/cmdline");
    return cmdline && cmdline->find("lava-run") != std::string::npos;
}

void Worker::start_job(const JobRef& ref) {
    logger()->info("[{}] starting", ref.id);
    const auto files = api_.fetch_job(ref);
    if (files.status == 404) {
        logger()->warn("[{}] the server does not know this job any more: {}", ref.id, files.error);
        return;
    }
    if (files.status != 200) {
        logger()->error("[{}] cannot fetch the job ({}); trying again at the next ping", ref.id, files.error);
        return;
    }
    const std::string dir = job_dir(ref.id);
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::create_directories(dir, ec);
    fs::permissions(dir, fs::perms::owner_all, ec);
    LocalJob job;
    job.id = ref.id;
    job.token = ref.token;
    // The job's files hold its secrets (tokens substituted into the
    // definition, its token): readable by this user only.
    const auto put = [&](const char* name, const std::string& text) {
        return lava::write_file_atomic(dir + "/" + name, text, 0600);
    };
    bool written = put("job.yaml", files.definition) && put("device.yaml", files.device) && put("token", ref.token);
    if (!files.dispatcher.empty()) written = written && put("dispatcher.yaml", files.dispatcher);
    if (!files.env_dut.empty()) written = written && put("env-dut.yaml", files.env_dut);

    std::vector<std::string> argv = {options_.lava_run,
                                     "--device=" + dir + "/device.yaml",
                                     "--output-dir=" + dir,
                                     "--job-id=" + std::to_string(ref.id),
                                     "--url=" + options_.url,
                                     "--token-file=" + dir + "/token",
                                     "--job-log-interval=" + std::to_string(options_.job_log_interval),
                                     "--tmp-dir=" + options_.worker_dir + "/run",
                                     "--coordinator-config=" + options_.coordinator_config};
    if (!options_.tftp_dir.empty()) argv.push_back("--tftp-dir=" + options_.tftp_dir);
    if (!files.dispatcher.empty()) argv.push_back("--dispatcher=" + dir + "/dispatcher.yaml");
    if (!files.env_dut.empty()) argv.push_back("--env-dut=" + dir + "/env-dut.yaml");
    argv.push_back(dir + "/job.yaml");
    const auto env = job_environment(files.env, ref.id);

    std::string failure;
    if (!written) failure = "cannot write the job's files in " + dir;
    if (failure.empty()) {
        const pid_t pid = ::fork();
        if (pid < 0) {
            failure = std::string("fork: ") + std::strerror(errno);
        } else if (pid == 0) {
            ::setpgid(0, 0);  // its own process group: cancel signals the whole job
            const int out = ::open((dir + "/stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            const int err = ::open((dir + "/stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            const int in = ::open("/dev/null", O_RDONLY);
            if (out >= 0) ::dup2(out, STDOUT_FILENO);
            if (err >= 0) ::dup2(err, STDERR_FILENO);
            if (in >= 0) ::dup2(in, STDIN_FILENO);
            ::signal(SIGPIPE, SIG_DFL);
            ::signal(SIGCHLD, SIG_DFL);
            sigset_t none;
            sigemptyset(&none);
            ::sigprocmask(SIG_SETMASK, &none, nullptr);
            std::vector<char*> args, envp;
            for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
            args.push_back(nullptr);
            for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
            envp.push_back(nullptr);
            ::execve(args[0], args.data(), envp.data());
            const std::string msg = "lava-worker: cannot run " + argv[0] + ": " + std::strerror(errno) + "\n";
            (void)!::write(STDERR_FILENO, msg.data(), msg.size());
            ::_exit(127);
        } else {
            ::setpgid(pid, pid);
            job.pid = pid;
            job.our_child = true;
        }
    }
    if (!failure.empty()) {
        logger()->error("[{}] {}", ref.id, failure);
        lava::write_file_atomic(dir + "/stderr", failure + "\n", 0600);
        job.status = JobStatus::kFinished;
    }
    jobs_[ref.id] = job;
    save(job);
    if (job.status == JobStatus::kRunning) {
        const auto r = api_.post_running(ref);
        if (r.status != 200) logger()->warn("[{}] POST Running: {}", ref.id, r.error);
        logger()->info("[{}] lava-run started (pid {})", ref.id, job.pid);
    }
}

void Worker::cancel_job(const JobRef& ref) {
    auto it = jobs_.find(ref.id);
    if (it == jobs_.end()) {
        // Unknown here: report it as ended, so the server can close it.
        LocalJob job;
        job.id = ref.id;
        job.token = ref.token;
        job.status = JobStatus::kFinished;
        jobs_[ref.id] = job;
        save(job);
        logger()->info("[{}] cancel asked for a job this worker does not run: reporting it ended", ref.id);
        return;
    }
    auto& job = it->second;
    if (job.status != JobStatus::kRunning) return;
    logger()->info("[{}] canceling: SIGTERM to lava-run (pid {})", ref.id, job.pid);
    if (job.pid > 0) ::kill(-job.pid, SIGTERM);
    job.status = JobStatus::kCanceling;
    job.canceled_at = unix_now();
    save(job);
}

void Worker::handle(const PingReply& reply) {
    for (const auto& ref : reply.start) {
        if (jobs_.count(ref.id)) {
            api_.post_running(ref);  // the server missed it: say it again
        } else {
            start_job(ref);
        }
    }
    for (const auto& ref : reply.running) {
        if (!jobs_.count(ref.id)) start_job(ref);
    }
    for (const auto& ref : reply.cancel) cancel_job(ref);
}

bool Worker::check() {
    bool pending = false;
    std::vector<long long> done;
    for (auto& [id, job] : jobs_) {
        if (job.status != JobStatus::kFinished && !alive(job)) {
            logger()->info("[{}] lava-run ended", id);
            job.status = JobStatus::kFinished;
            save(job);
        }
        if (job.status == JobStatus::kCanceling) {
            const auto waited = unix_now() - job.canceled_at;
            if (waited >= options_.sigkill_after.count()) {
                logger()->warn("[{}] still running {} s after the cancel: SIGKILL to its process group", id, waited);
                ::kill(-job.pid, SIGKILL);
            } else if (waited >= options_.sigterm_again_after.count() && !job.sigterm_again) {
                logger()->warn("[{}] still running {} s after the cancel: SIGTERM again", id, waited);
                ::kill(-job.pid, SIGTERM);
                job.sigterm_again = true;
                save(job);
            }
            pending = true;  // check again soon
        }
        if (job.status != JobStatus::kFinished) continue;
        const std::string dir = job_dir(id);
        std::string result = "fail", error_type;
        bool have_result = false;
        if (const auto text = read_file(dir + "/result.yaml")) {
            if (auto doc = common::yaml::load(*text); doc && doc->is_dict()) {
                if (const auto* r = doc->find("result"); r && r->is_str()) {
                    result = r->as_str();
                    have_result = true;
                }
                if (const auto* e = doc->find("error_type"); e && e->is_str()) error_type = e->as_str();
            }
        }
        if (!have_result || (result != "pass" && error_type.empty())) error_type = result == "pass" ? "" : "Bug";
        const auto errors = read_file(dir + "/stderr").value_or("");
        const auto description = read_file(dir + "/description.yaml").value_or("");
        const auto r = api_.post_finished({id, job.token}, result, error_type, errors, description);
        if (r.status == 200) {
            logger()->info("[{}] finished: {}{}", id, result, error_type.empty() ? "" : " (" + error_type + ")");
            if (metrics_) {
                metrics_->jobs.with({result, error_type}).inc();
                if (const auto text = read_file(dir + "/log-upload.yaml")) {
                    if (auto doc = common::yaml::load(*text); doc && doc->is_dict()) {
                        if (const auto* n = doc->find("retries"); n && n->is_int()) {
                            metrics_->upload_retries.inc(static_cast<double>(n->as_int()));
                        }
                    }
                }
            }
            done.push_back(id);
        } else if (r.status == 404 && r.error.find("Unknown job") != std::string::npos) {
            logger()->warn("[{}] the server does not know this job any more; dropping it", id);
            done.push_back(id);
        } else {
            logger()->warn("[{}] POST Finished: {}; trying again", id, r.error);
            pending = true;
        }
    }
    for (const auto id : done) forget(id);
    return pending;
}

// ------------------------------------------------------------ the loop

namespace {

// Waits until `fd` is readable or `timeout` passes (or `stop`), then drains it.
// systemd's watchdog, fed by the worker's loop (its waits turn every second).
common::notify::WatchdogTicker& watchdog() {
    static common::notify::WatchdogTicker ticker;
    return ticker;
}

void wait_wake(int fd, std::chrono::milliseconds timeout, const std::atomic<bool>& stop) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!stop.load()) {
        watchdog().tick();
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return;
        pollfd p{fd, POLLIN, 0};
        const int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
        if (rc > 0) {
            char buffer[256];
            while (::read(fd, buffer, sizeof buffer) > 0) {
            }
            return;
        }
    }
}

}  // namespace

bool Worker::ensure_token(const std::atomic<bool>& stop, int wake_fd) {
    if (!options_.token.empty() && options_.username.empty()) {
        std::lock_guard lock(token_mutex_);
        token_ = options_.token;
        return true;
    }
    if (const auto saved = read_file(options_.token_file); saved && !saved->empty()) {
        std::string t = *saved;
        while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
        std::lock_guard lock(token_mutex_);
        token_ = t;
        return true;
    }
    while (!stop.load()) {
        std::string token;
        const auto r = api_.register_worker(options_.username, options_.token, token);
        if (r.status == 200) {
            std::error_code ec;
            fs::create_directories(fs::path(options_.token_file).parent_path(), ec);
            if (!lava::write_file_atomic(options_.token_file, token + "\n", 0600)) {
                logger()->error("cannot save the token in {}", options_.token_file);
            }
            logger()->info("registered as {}", options_.name);
            std::lock_guard lock(token_mutex_);
            token_ = token;
            return true;
        }
        logger()->warn("cannot register as {}: {}; trying again in 5 s", options_.name, r.error);
        wait_wake(wake_fd, std::chrono::seconds(5), stop);
    }
    return false;
}

Worker::~Worker() = default;

void Worker::instrument(common::metrics::Registry& registry) { metrics_ = std::make_unique<Metrics>(registry); }

std::optional<std::string> Worker::ready_problem() const {
    const int status = last_ping_status_.load();
    if (status == 200) return std::nullopt;
    if (status == 0) return std::string("no ping answered yet");
    if (status < 0) return std::string("the server did not answer the last ping");
    return "the last ping got HTTP " + std::to_string(status);
}

int Worker::run(const std::atomic<bool>& stop, int wake_fd) {
    load_jobs();
    if (!ensure_token(stop, wake_fd)) return 0;
    logger()->info("{} serving {} (ping every {} s, lava-run {})", options_.name, options_.url,
                   options_.ping_interval.count(), options_.lava_run);
    common::notify::ready("serving " + options_.url);
    std::size_t reported = static_cast<std::size_t>(-1);
    for (;;) {
        watchdog().tick();
        if (jobs_.size() != reported) {
            reported = jobs_.size();
            common::notify::status(std::to_string(reported) + (reported == 1 ? " job" : " jobs") + " running");
        }
        const bool stopping = stop.load();
        if (stopping && (!options_.wait_jobs || jobs_.empty())) break;
        auto wait = std::chrono::milliseconds(options_.ping_interval);
        const auto reply = api_.ping(token());
        last_ping_status_.store(reply.status == 0 ? -1 : reply.status);
        if (metrics_) metrics_->pings.with({reply.status == 200 ? "ok" : "error"}).inc();
        if (reply.status == 200) {
            if (!stopping) handle(reply);
            else for (const auto& ref : reply.cancel) cancel_job(ref);  // --wait-jobs: cancels still count
        } else if (reply.status == 409) {
            logger()->error("version mismatch: {}", reply.error);
            if (options_.exit_on_version_mismatch) return 1;
        } else {
            logger()->warn("ping failed: {}", reply.error.empty() ? "HTTP " + std::to_string(reply.status) : reply.error);
            wait = std::chrono::milliseconds(1000);
        }
        if (check()) wait = std::min(wait, std::chrono::milliseconds(1000));
        if (metrics_) metrics_->running.set(static_cast<double>(jobs_.size()));
        wait_wake(wake_fd, wait, stop);
    }
    common::notify::stopping();
    logger()->info("stopped ({} job(s) left running)", jobs_.size());
    return 0;
}

// ------------------------------------------------------------ events

void listen_events(const std::string& ws_url, const std::string& name, const std::function<std::string()>& token,
                   int wake_fd, const std::atomic<bool>& stop) {
    auto backoff = std::chrono::seconds(1);
    while (!stop.load()) {
        const std::string t = token();
        if (t.empty()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));  // registration in progress
            continue;
        }
        auto client = common::client::WebSocketClient::connect(
            ws_url, {{"LAVA-Token", t}, {"LAVA-Host", name}}, std::chrono::steady_clock::now() + std::chrono::seconds(10));
        if (!client) {
            logger()->warn("events: {}; again in {} s", client.error().message, backoff.count());
            for (auto until = std::chrono::steady_clock::now() + backoff; !stop.load() && std::chrono::steady_clock::now() < until;) {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
            backoff = std::min(backoff * 2, std::chrono::seconds(60));
            continue;
        }
        logger()->info("events: listening on {}", ws_url);
        backoff = std::chrono::seconds(1);
        // A reconnect may have missed events: ping now.
        (void)!::write(wake_fd, "w", 1);
        while (!stop.load()) {
            auto message = (*client)->receive(std::chrono::steady_clock::now() + std::chrono::seconds(1));
            if (!message) {
                if (message.error().code == errc::kConflict) continue;  // the 1 s tick
                logger()->warn("events: {}", message.error().message);
                break;
            }
            // [topic, uuid, datetime, username, data]
            const auto frame = proto::parse_json(*message);
            if (!frame.is_array() || frame.size() < 5 || !frame[0].is_string() || !frame[4].is_string()) continue;
            const std::string topic = frame[0].get<std::string>();
            if (topic.size() < 8 || topic.compare(topic.size() - 8, 8, ".testjob") != 0) continue;
            const auto data = proto::parse_json(frame[4].get<std::string>());
            if (!data.is_object()) continue;
            const std::string state = data.value("state", std::string());
            const std::string worker = data.value("worker", std::string());
            if ((state == "Scheduled" || state == "Canceling") && (worker.empty() || worker == name)) {
                (void)!::write(wake_fd, "e", 1);
            }
        }
    }
}

}  // namespace lava::worker::worker
