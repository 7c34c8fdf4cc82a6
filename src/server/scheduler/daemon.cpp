#include "server/scheduler/daemon.hpp"

#include "common/base/notify.hpp"

#include "common/log/log.hpp"
#include "common/proto/events.hpp"
#include "common/proto/json.hpp"
#include "server/events/events.hpp"
#include "server/store/lab_status.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <map>
#include <csignal>
#include <memory>
#include <thread>

namespace lava::server::scheduler {
namespace {

std::atomic<bool> g_stopping{false};

// Whether an event may make a job placeable (lava-protocols.md §5.4, plus workers coming Online).
bool wakes(const std::vector<std::string>& frames, const std::string& topic) {
    if (frames.size() != 5 || frames[0].rfind(topic, 0) != 0) return false;
    const auto kind = frames[0].substr(topic.size());
    const auto payload = proto::parse_json(frames[4]);
    if (!payload.is_object()) return false;
    auto field = [&](const char* key) {
        const auto it = payload.find(key);
        return it != payload.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    if (kind == ".testjob") return field("state") == "Submitted";
    if (kind == ".device") {
        const auto health = field("health");
        return field("state") == "Idle" && (health == "Good" || health == "Unknown" || health == "Looping");
    }
    if (kind == ".worker") return field("state") == "Online";
    return false;
}

// Holds the leader lock on its own connection.
class Leadership {
public:
    explicit Leadership(std::string conninfo) : conninfo_(std::move(conninfo)) {}

    // Takes the lock if free; false when another scheduler holds it.
    bool try_acquire() {
        try {
            if (!conn_) conn_ = std::make_unique<pqxx::connection>(conninfo_);
            pqxx::nontransaction tx(*conn_);
            return tx.exec_params1("SELECT pg_try_advisory_lock($1)", kLeaderLock)[0].as<bool>();
        } catch (const std::exception& e) {
            conn_.reset();
            common::log::get("lava-scheduler")->warn("cannot reach the database: {}", common::db::first_line(e.what()));
            return false;
        }
    }

    // Whether the lock's connection is still there (the lock with it).
    bool held() {
        try {
            pqxx::nontransaction tx(*conn_);
            tx.exec("SELECT 1");
            return true;
        } catch (const std::exception&) {
            conn_.reset();
            return false;
        }
    }

private:
    std::string conninfo_;
    std::unique_ptr<pqxx::connection> conn_;
};

// systemd's watchdog, fed by the daemon's loop (and its waits).
common::notify::WatchdogTicker& watchdog() {
    static common::notify::WatchdogTicker ticker;
    return ticker;
}

void wait_ms(int ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!g_stopping && std::chrono::steady_clock::now() < until) {
        watchdog().tick();
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(ms, 50)));
    }
}

}  // namespace

std::string reason_category(const std::string& reason) {
    const auto starts = [&reason](const char* prefix) { return reason.rfind(prefix, 0) == 0; };
    if (starts("no device of type")) return "no_device";
    if (starts("no usable device")) return "no_usable_device";
    if (starts("all usable devices")) return "busy";
    if (starts("queued behind MultiNode")) return "multinode";
    if (starts("waiting for a free device")) return "restricted";
    return "unknown";
}

namespace {

struct SchedulerMetrics {
    explicit SchedulerMetrics(common::metrics::Registry& r, common::db::Pool& pool)
        : active(r.gauge("lava_scheduler_active", "1 while this lava-scheduler is the active one, 0 on standby").with()),
          passes(r.counter("lava_scheduler_passes_total", "Scheduling passes, by outcome", {"result"})),
          pass_seconds(r.histogram("lava_scheduler_pass_duration_seconds", "Time of a scheduling pass, commit included",
                                   {}, common::metrics::latency_buckets())
                           .with()),
          placements(r.counter("lava_scheduler_placements_total", "Jobs placed on a device (health checks included)")
                         .with()),
          timeouts(r.counter("lava_scheduler_queue_timeouts_total", "Jobs canceled because their queue timeout passed")
                       .with()),
          queue(r.gauge("lava_queue_length", "Submitted jobs waiting for a device, by device type", {"device_type"})),
          waiting(r.gauge("lava_jobs_waiting", "Submitted jobs waiting for a device, by why their queue waits",
                          {"reason"})) {
        // Read at each scrape, and only by the active scheduler: a standby
        // would report the same queue twice.
        r.on_collect([this, &pool] {
            if (active.value() < 1) {
                queue.clear();
                waiting.clear();
                return;
            }
            std::vector<server::store::QueueLength> lengths;
            common::db::transact_when(
                pool, [&](common::db::Tx& tx) { lengths = server::store::queue_lengths(tx); return 0; },
                [](int) { return false; });
            std::map<std::string, double> by_reason;
            for (const auto& q : lengths) by_reason[reason_category(q.reason)] += static_cast<double>(q.jobs);
            queue.clear();
            waiting.clear();
            for (const auto& q : lengths) queue.with({q.device_type}).set(static_cast<double>(q.jobs));
            for (const auto& [reason, jobs] : by_reason) waiting.with({reason}).set(jobs);
        });
    }
    common::metrics::Gauge& active;
    common::metrics::Family<common::metrics::Counter>& passes;
    common::metrics::Histogram& pass_seconds;
    common::metrics::Counter& placements;
    common::metrics::Counter& timeouts;
    common::metrics::Family<common::metrics::Gauge>& queue;
    common::metrics::Family<common::metrics::Gauge>& waiting;
};

}  // namespace

int run_daemon(const DaemonSettings& settings, const std::string& conninfo, common::db::Pool& pool,
               common::metrics::Registry& registry) {
    auto log = common::log::get("lava-scheduler");
    SchedulerMetrics metrics(registry, pool);
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::thread stopper([&] {
        int signo = 0;
        sigwait(&signals, &signo);
        if (!g_stopping) log->info("signal {}: stopping", signo);
        g_stopping = true;
    });

    zmq::context_t context(1);
    zmq::socket_t sub(context, zmq::socket_type::sub);
    sub.set(zmq::sockopt::linger, 0);
    sub.set(zmq::sockopt::rcvhwm, 100000);
    sub.connect(settings.events_url);
    sub.set(zmq::sockopt::subscribe, settings.event_topic);
    events::EventPublisher publisher(settings.event_socket, settings.event_topic);
    publisher.instrument(registry);
    Scheduler scheduler(pool, settings.scheduler);
    Leadership leadership(conninfo);

    log->info("lava-scheduler {} waiting to be the active scheduler (events from {})", LAVA_CPP_VERSION,
              settings.events_url);
    common::notify::ready("waiting to be the active scheduler");
    bool standby_logged = false;
    while (!g_stopping) {
        watchdog().tick();
        if (!leadership.try_acquire()) {
            if (!standby_logged) {
                log->info("standby: another lava-scheduler is active");
                common::notify::status("standby: another lava-scheduler is active");
            }
            standby_logged = true;
            wait_ms(settings.standby_poll_ms);
            continue;
        }
        metrics.active.set(1);
        log->info("active: scheduling");
        common::notify::status("active: scheduling");
        scheduler.forget();
        standby_logged = false;
        auto next_timer = std::chrono::steady_clock::now();
        auto checked = next_timer - std::chrono::seconds(1);
        bool wake = true;
        while (!g_stopping) {
            watchdog().tick();
            const auto now = std::chrono::steady_clock::now();
            if (wake || now >= next_timer) {
                // The lock goes with its connection: checked at most once a
                // second (a round trip a pass would otherwise cost).
                if (now - checked >= std::chrono::seconds(1)) {
                    if (!leadership.held()) {
                        metrics.active.set(0);
                        log->error("lost the database connection holding the leader lock");
                        break;
                    }
                    checked = now;
                }
                try {
                    auto report = scheduler.pass();
                    publisher.publish(report.events);
                    metrics.passes.with({"ok"}).inc();
                    metrics.pass_seconds.observe(report.ms / 1000.0);
                    metrics.placements.inc(static_cast<double>(report.scheduled.size()));
                    metrics.timeouts.inc(static_cast<double>(report.timed_out.size()));
                    if (!report.scheduled.empty() || !report.timed_out.empty() || !report.workers_offline.empty()) {
                        log->info("pass: {} scheduled, {} health checks, {} timed out, {} workers offline in {:.1f} ms "
                                  "({})", report.scheduled.size(), report.health_checks.size(), report.timed_out.size(),
                                  report.workers_offline.size(), report.ms, report.phases);
                    } else {
                        log->debug("pass: nothing to do ({:.1f} ms)", report.ms);
                    }
                } catch (const std::exception& e) {
                    metrics.passes.with({"error"}).inc();
                    log->error("pass failed: {}", common::db::first_line(e.what()));
                    wait_ms(1000);
                }
                wake = false;
                next_timer = std::chrono::steady_clock::now() + std::chrono::seconds(settings.interval_s);
            }
            // Events until the timer; a wake-up drains what else arrived, so
            // a burst of submissions costs one pass.
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next_timer - std::chrono::steady_clock::now());
            zmq::pollitem_t items[] = {{sub.handle(), 0, ZMQ_POLLIN, 0}};
            try {
                zmq::poll(items, 1, std::chrono::milliseconds(std::clamp<long>(left.count(), 0, 100)));
            } catch (const zmq::error_t& e) {
                if (e.num() != EINTR) throw;
                continue;
            }
            if (!(items[0].revents & ZMQ_POLLIN)) continue;
            for (;;) {
                std::vector<zmq::message_t> parts;
                if (!zmq::recv_multipart(sub, std::back_inserter(parts), zmq::recv_flags::dontwait)) break;
                std::vector<std::string> frames;
                for (const auto& p : parts) frames.push_back(p.to_string());
                if (wakes(frames, settings.event_topic)) wake = true;
            }
        }
    }
    common::notify::stopping();
    pthread_kill(stopper.native_handle(), SIGTERM);
    stopper.join();
    log->info("lava-scheduler stopped");
    return 0;
}

}  // namespace lava::server::scheduler
