// lava-scheduler's pass against a real database: D idle devices, Q queued
// jobs of their type; prints how long a pass that places min(D, Q) jobs
// takes, commit and event building included, and a pass with every device
// busy. Run through bench/scheduler/run.
//
//   lava-bench-scheduler-pass --database CONNINFO --devices D --queued Q [--rounds R]
// The database must be migrated and is filled (and emptied) by the program.

#include "common/db/pool.hpp"
#include "server/scheduler/scheduler.hpp"

#include <CLI/CLI.hpp>
#include <pqxx/pqxx>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace {

void exec(const std::string& conninfo, const std::string& sql) {
    pqxx::connection c(conninfo);
    pqxx::work w(c);
    w.exec(sql);
    w.commit();
}

// Adds `n` queued jobs (with their definitions) of type bench.
void queue(const std::string& conninfo, long n) {
    if (n <= 0) return;
    exec(conninfo,
         "WITH j AS (INSERT INTO test_jobs (submitter_id, requested_device_type, priority, token, is_public, "
         "description) SELECT (SELECT id FROM users WHERE username = 'bench'), 'bench', (g % 3) * 50, "
         "md5(g::text), true, 'bench ' || g FROM generate_series(1, " + std::to_string(n) + ") g RETURNING id) "
         "INSERT INTO test_job_definitions (job_id, definition, original_definition) "
         "SELECT id, 'job_name: bench', 'job_name: bench' FROM j");
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app("lava-scheduler pass benchmark");
    std::string conninfo;
    long devices = 50;
    long queued = 2000;
    int rounds = 5;
    app.add_option("--database", conninfo, "libpq connection string")->required();
    app.add_option("--devices", devices, "idle devices");
    app.add_option("--queued", queued, "queued jobs");
    app.add_option("--rounds", rounds, "passes measured");
    CLI11_PARSE(app, argc, argv);

    exec(conninfo,
         "INSERT INTO users (username, password) VALUES ('bench', '!') ON CONFLICT DO NOTHING;"
         "INSERT INTO device_types (name, disable_health_check) VALUES ('bench', true) ON CONFLICT DO NOTHING;"
         "INSERT INTO workers (hostname, state, last_ping, token) VALUES ('bench-worker', 0, now(), repeat('w', 32)) "
         "ON CONFLICT DO NOTHING;"
         "INSERT INTO devices (hostname, device_type, worker_host, health) SELECT 'bench' || lpad(g::text, 5, '0'), "
         "'bench', 'bench-worker', 0 FROM generate_series(1, " + std::to_string(devices) + ") g "
         "ON CONFLICT DO NOTHING");
    queue(conninfo, queued);
    exec(conninfo, "ANALYZE");

    lava::common::db::Pool pool(conninfo, 2);
    lava::server::scheduler::SchedulerSettings settings;
    settings.dispatcher_config = "/nonexistent";
    settings.worker_timeout_s = 86400;
    lava::server::scheduler::Scheduler scheduler(pool, settings);
    std::vector<double> placing, idle;
    std::size_t placed = 0;
    std::string phases;
    for (int round = 0; round < rounds; ++round) {
        exec(conninfo, "UPDATE workers SET last_ping = now(); UPDATE devices SET state = 0 WHERE state <> 0");
        const auto report = scheduler.pass();
        placing.push_back(report.ms);
        placed = report.scheduled.size();
        phases = report.phases;
        idle.push_back(scheduler.pass().ms);  // every device busy now
        // The placed jobs end; as many new ones keep the queue at Q.
        exec(conninfo, "UPDATE test_jobs SET state = 5, health = 1, end_time = now() WHERE state = 2");
        queue(conninfo, static_cast<long>(placed));
    }
    std::printf("%ld devices, %ld queued: pass placing %zu jobs: median %.1f ms (min %.1f, max %.1f); "
                "pass with every device busy: median %.1f ms; last placing pass by phase (ms): %s\n",
                devices, queued, placed, median(placing), *std::min_element(placing.begin(), placing.end()),
                *std::max_element(placing.begin(), placing.end()), median(idle), phases.c_str());
    return 0;
}
