// lava-scheduler's pass against a real PostgreSQL, one table row per rule
// (lava-protocols.md §9.3): given a lab and a queue, which job gets which
// device, and why the others wait.

#include "common/db/pool.hpp"
#include "integration/pg_fixture.hpp"
#include "server/scheduler/scheduler.hpp"

#include <gmock/gmock.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

namespace lava::test {
namespace {

namespace fs = std::filesystem;
using server::scheduler::Placement;
using server::scheduler::Scheduler;
using server::scheduler::SchedulerSettings;
using ::testing::HasSubstr;

// The lab every case starts from: types qemu (q1, q2, q3 on w1) and bbb (b1
// on w2), all Good and Idle, both workers Online and Active; users alice,
// bob (group team), root (superuser); tags usb (on q2) and rare (nowhere).
const char* kLab = R"SQL(
INSERT INTO groups (name) VALUES ('team');
INSERT INTO users (username, password) VALUES ('alice', '!'), ('bob', '!');
INSERT INTO users (username, password, is_superuser) VALUES ('root', '!', true);
INSERT INTO user_groups SELECT u.id, g.id FROM users u, groups g WHERE u.username = 'bob' AND g.name = 'team';
INSERT INTO device_types (name) VALUES ('qemu'), ('bbb'), ('empty');
INSERT INTO workers (hostname, state, last_ping, token) VALUES
  ('w1', 0, now(), repeat('a', 32)), ('w2', 0, now(), repeat('b', 32));
INSERT INTO devices (hostname, device_type, worker_host, health) VALUES
  ('q1', 'qemu', 'w1', 0), ('q2', 'qemu', 'w1', 0), ('q3', 'qemu', 'w1', 0), ('b1', 'bbb', 'w2', 0);
INSERT INTO tags (name) VALUES ('usb'), ('rare');
INSERT INTO device_tags SELECT 'q2', id FROM tags WHERE name = 'usb';
)SQL";

class SchedulerTest : public PgTest {
public:  // the table's cases drive it
    void SetUp() override {
        PgTest::SetUp();
        migrate();
        exec(kLab);
        pool_ = std::make_unique<common::db::Pool>(conninfo(), 2);
        dc_ = fs::temp_directory_path() / ("lava-sched-" + db_name_);
        fs::create_directories(dc_ / "health-checks");
        fs::create_directories(dc_ / "devices");
    }
    void TearDown() override {
        fs::remove_all(dc_);
        pool_.reset();
        PgTest::TearDown();
    }

    void exec(const std::string& sql) {
        pqxx::connection c(conninfo());
        pqxx::work w(c);
        w.exec(sql);
        w.commit();
    }

    struct Job {
        std::string type = "qemu";
        int priority = 50;
        std::string submitter = "alice";
        std::vector<std::string> tags;
        std::string device;  // requested
        std::string worker;  // requested
        std::string group;   // MultiNode target_group
        std::string role;
        std::string extra;   // more SQL columns: ", queue_timeout = 1"
    };

    // Queues a job; submit times increase with each call.
    std::int64_t submit(const Job& j) {
        const auto definition = j.group.empty()
                                    ? std::string("job_name: x\n")
                                    : "job_name: x\nprotocols:\n  lava-multinode:\n    role: " + j.role + "\n";
        const auto id = std::stoll(query_write(
            "INSERT INTO test_jobs (submitter_id, requested_device_type, priority, "
            "token, target_group, requested_device, requested_worker, submit_time) SELECT id, '" + j.type + "', " +
            std::to_string(j.priority) + ", repeat('t', 32), " + nullable(j.group) + ", " +
            nullable(j.device) + ", " + nullable(j.worker) + ", now() + " + std::to_string(++clock_) +
            " * interval '1 millisecond' FROM users WHERE username = '" + j.submitter + "' RETURNING id"));
        exec("INSERT INTO test_job_definitions (job_id, definition, original_definition) VALUES (" +
             std::to_string(id) + ", $$" + definition + "$$, '')");
        if (!j.group.empty()) exec("UPDATE test_jobs SET sub_id = '" + j.group + "." + std::to_string(id) + "' WHERE id = " + std::to_string(id));
        for (const auto& t : j.tags) {
            exec("INSERT INTO test_job_tags SELECT " + std::to_string(id) + ", id FROM tags WHERE name = '" + t + "'");
        }
        if (!j.extra.empty()) exec("UPDATE test_jobs SET " + j.extra + " WHERE id = " + std::to_string(id));
        return id;
    }

    std::string query_write(const std::string& sql) {
        pqxx::connection c(conninfo());
        pqxx::work w(c);
        const auto r = w.exec1(sql);
        w.commit();
        return r[0].as<std::string>();
    }

    static std::string nullable(const std::string& v) { return v.empty() ? "NULL" : "'" + v + "'"; }

    server::scheduler::PassReport pass() {
        SchedulerSettings s;
        s.dispatcher_config = dc_.string();
        return Scheduler(*pool_, s).pass();
    }

    // The device each job holds ("" when it still waits).
    std::string device_of(std::int64_t job) {
        return query("SELECT coalesce(actual_device, '') FROM test_jobs WHERE id = " + std::to_string(job));
    }
    std::string reason_of(std::int64_t job) {
        return query("SELECT CASE WHEN j.waiting_reason <> '' THEN j.waiting_reason ELSE q.waiting_reason END "
                     "FROM test_jobs j LEFT JOIN device_type_queues q ON q.device_type = j.requested_device_type "
                     "WHERE j.id = " + std::to_string(job));
    }
    void busy(const std::string& device) {
        exec("UPDATE devices SET state = 2 WHERE hostname = '" + device + "'");
    }

    std::unique_ptr<common::db::Pool> pool_;
    fs::path dc_;
    int clock_ = 0;
};

// ---------------------------------------------------------------- the table

struct Case {
    const char* name;
    // Prepares the lab and queue; returns the jobs by label.
    std::function<std::map<std::string, std::int64_t>(SchedulerTest&)> given;
    std::map<std::string, std::string> placed;   // label -> device ("" : waits)
    std::map<std::string, std::string> reasons;  // label -> part of its waiting reason
};

class SchedulerTable : public SchedulerTest, public ::testing::WithParamInterface<Case> {};

const Case kCases[] = {
    {"queue order is priority then submit time",
     [](SchedulerTest& t) {
         return std::map<std::string, std::int64_t>{{"low", t.submit({.priority = 0})},
                                                    {"high", t.submit({.priority = 100})},
                                                    {"medium", t.submit({})},
                                                    {"medium2", t.submit({})}};
     },
     {{"high", "q1"}, {"medium", "q3"}, {"medium2", "q2"}, {"low", ""}},
     {{"low", "all usable devices of type 'qemu' are busy (3 devices)"}}},
    {"untagged jobs leave tagged devices for tagged jobs; unmatched tags wait",
     [](SchedulerTest& t) {
         return std::map<std::string, std::int64_t>{{"plain", t.submit({})},
                                                    {"usb", t.submit({.tags = {"usb"}})},
                                                    {"rare", t.submit({.tags = {"rare"}})}};
     },
     {{"plain", "q1"}, {"usb", "q2"}, {"rare", ""}},
     {{"rare", "no available device of type 'qemu' has the tags rare"}}},
    {"a requested device or worker is honoured",
     [](SchedulerTest& t) {
         t.busy("b1");
         return std::map<std::string, std::int64_t>{{"on-q3", t.submit({.device = "q3"})},
                                                    {"on-b1", t.submit({.type = "bbb", .device = "b1"})},
                                                    {"on-w2", t.submit({.worker = "w2"})}};
     },
     {{"on-q3", "q3"}, {"on-b1", ""}, {"on-w2", ""}},
     {{"on-w2", "no device of type 'qemu' is available on the requested worker w2"}}},
    {"offline, retired, maintenance and bad devices take no job",
     [](SchedulerTest& t) {
         t.exec("UPDATE workers SET state = 1 WHERE hostname = 'w2';"
                "UPDATE devices SET health = 4 WHERE hostname = 'q1'; UPDATE devices SET health = 3 WHERE hostname = 'q2';"
                "UPDATE devices SET health = 5 WHERE hostname = 'q3'");
         return std::map<std::string, std::int64_t>{{"qemu", t.submit({})}, {"bbb", t.submit({.type = "bbb"})}};
     },
     {{"qemu", ""}, {"bbb", ""}},
     {{"qemu", "no usable device of type 'qemu'"}, {"bbb", "no usable device of type 'bbb'"}}},
    {"a worker silent for a minute goes Offline and gets nothing",
     [](SchedulerTest& t) {
         t.exec("UPDATE workers SET last_ping = now() - interval '2 minutes' WHERE hostname = 'w2'");
         return std::map<std::string, std::int64_t>{{"bbb", t.submit({.type = "bbb"})}};
     },
     {{"bbb", ""}},
     {{"bbb", "no usable device of type 'bbb'"}}},
    {"an Unknown device without a health check is available; a Looping one is not",
     [](SchedulerTest& t) {
         t.exec("UPDATE devices SET health = 1 WHERE hostname = 'b1'; UPDATE devices SET health = 2 WHERE hostname IN ('q1', 'q2', 'q3')");
         return std::map<std::string, std::int64_t>{{"bbb", t.submit({.type = "bbb"})}, {"qemu", t.submit({})}};
     },
     {{"bbb", "b1"}, {"qemu", ""}},
     {}},
    {"a worker at its job_limit takes no more",
     [](SchedulerTest& t) {
         t.exec("UPDATE workers SET job_limit = 2 WHERE hostname = 'w1'");
         t.busy("q1");
         return std::map<std::string, std::int64_t>{{"first", t.submit({})}, {"second", t.submit({})}};
     },
     {{"first", "q3"}, {"second", ""}},
     {{"second", "at their job limit"}}},
    {"submit permissions on the type and on the device",
     [](SchedulerTest& t) {
         t.exec("INSERT INTO group_device_type_permissions (group_id, device_type, permission) "
                "SELECT id, 'bbb', 'submit_to_devicetype' FROM groups WHERE name = 'team'");
         return std::map<std::string, std::int64_t>{{"alice", t.submit({.type = "bbb"})},
                                                    {"bob", t.submit({.type = "bbb", .submitter = "bob"})}};
     },
     {{"alice", ""}, {"bob", "b1"}},
     {{"alice", "the submitter may not use the available devices of type 'bbb'"}}},
    {"a superuser may use restricted devices",
     [](SchedulerTest& t) {
         t.exec("INSERT INTO group_device_permissions (group_id, device, permission) "
                "SELECT id, 'b1', 'submit_to_device' FROM groups WHERE name = 'team'");
         return std::map<std::string, std::int64_t>{{"root", t.submit({.type = "bbb", .submitter = "root"})}};
     },
     {{"root", "b1"}},
     {}},
    {"a job of a type without devices waits, saying so",
     [](SchedulerTest& t) { return std::map<std::string, std::int64_t>{{"empty", t.submit({.type = "empty"})}}; },
     {{"empty", ""}},
     {{"empty", "no device of type 'empty'"}}},
    {"a MultiNode group that fits starts whole, across types",
     [](SchedulerTest& t) {
         return std::map<std::string, std::int64_t>{
             {"server", t.submit({.group = "g1", .role = "server"})},
             {"client", t.submit({.group = "g1", .role = "client"})},
             {"board", t.submit({.type = "bbb", .group = "g1", .role = "board"})}};
     },
     {{"server", "q1"}, {"client", "q3"}, {"board", "b1"}},
     {}},
    {"a MultiNode group that must wait holds no device and keeps later jobs off its types",
     [](SchedulerTest& t) {
         t.busy("q1");
         return std::map<std::string, std::int64_t>{
             {"a", t.submit({.group = "g2", .role = "a"})},
             {"b", t.submit({.group = "g2", .role = "b"})},
             {"c", t.submit({.group = "g2", .role = "c"})},
             {"later", t.submit({})},
             {"other-type", t.submit({.type = "bbb"})}};
     },
     {{"a", ""}, {"b", ""}, {"c", ""}, {"later", ""}, {"other-type", "b1"}},
     {{"a", "waits for all its devices"}, {"later", "queued behind MultiNode group"}}},
    {"a MultiNode group that can never fit blocks nobody",
     [](SchedulerTest& t) {
         std::map<std::string, std::int64_t> jobs;
         for (const char* role : {"a", "b", "c", "d"}) jobs[role] = t.submit({.group = "g3", .role = role});
         jobs["later"] = t.submit({});
         return jobs;
     },
     {{"a", ""}, {"d", ""}, {"later", "q1"}},
     {{"a", "cannot start: it needs 4 devices of type 'qemu', 3 usable"}}},
};

TEST_P(SchedulerTable, PlacesJobsAsLavaDoes) {
    const auto& c = GetParam();
    const auto jobs = c.given(*this);
    const auto report = pass();
    for (const auto& [label, device] : c.placed) {
        EXPECT_EQ(device_of(jobs.at(label)), device) << label;
    }
    for (const auto& [label, reason] : c.reasons) {
        EXPECT_THAT(reason_of(jobs.at(label)), HasSubstr(reason)) << label;
    }
    // Every placement is both a Scheduled job and a Reserved device.
    for (const auto& p : report.scheduled) {
        EXPECT_EQ(query("SELECT state FROM test_jobs WHERE id = " + std::to_string(p.job)), "2");
        EXPECT_EQ(query("SELECT state FROM devices WHERE hostname = '" + p.device + "'"), "1");
    }
}

INSTANTIATE_TEST_SUITE_P(Rules, SchedulerTable, ::testing::ValuesIn(kCases), [](const auto& param_info) {
    std::string name;
    for (const char* p = param_info.param.name; *p; ++p) name += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
    return name;
});

// ---------------------------------------------------------------- beyond the table

TEST_F(SchedulerTest, AStartedGroupCarriesItsRolesMap) {
    const auto server = submit({.group = "g", .role = "server"});
    const auto client = submit({.group = "g", .role = "client"});
    pass();
    const auto definition = query("SELECT definition FROM test_job_definitions WHERE job_id = " + std::to_string(client));
    EXPECT_THAT(definition, HasSubstr("roles:"));
    EXPECT_THAT(definition, HasSubstr("\"" + std::to_string(server) + "\": server"));
    EXPECT_THAT(definition, HasSubstr("\"" + std::to_string(client) + "\": client"));
}

TEST_F(SchedulerTest, QueueTimeoutsCancelWaitingJobs) {
    busy("q1");
    busy("q2");
    busy("q3");
    const auto expired = submit({.extra = "queue_timeout = 60, submit_time = now() - interval '2 minutes'"});
    const auto fresh = submit({.extra = "queue_timeout = 3600"});
    const auto report = pass();
    EXPECT_EQ(report.timed_out, std::vector<std::int64_t>{expired});
    EXPECT_EQ(query("SELECT state || '/' || health FROM test_jobs WHERE id = " + std::to_string(expired)), "5/3");
    EXPECT_EQ(query("SELECT state FROM test_jobs WHERE id = " + std::to_string(fresh)), "0");
}

TEST_F(SchedulerTest, SilentWorkersGoOfflineWithHistory) {
    exec("UPDATE workers SET last_ping = now() - interval '2 minutes' WHERE hostname = 'w2'");
    const auto report = pass();
    EXPECT_EQ(report.workers_offline, std::vector<std::string>{"w2"});
    EXPECT_EQ(query("SELECT state FROM workers WHERE hostname = 'w2'"), "1");
    EXPECT_EQ(query("SELECT count(*) FROM worker_state_changes WHERE worker = 'w2' AND actor = 'lava-scheduler'"), "1");
    EXPECT_TRUE(pass().workers_offline.empty());  // once
}

TEST_F(SchedulerTest, HealthChecksComeFirstAndBrokenDevicesGoBad) {
    std::ofstream(dc_ / "health-checks" / "qemu.yaml")
        << "job_name: qemu health\ndevice_type: qemu\nvisibility: public\ntimeouts: {job: {minutes: 5}}\n"
           "actions:\n- boot: {method: qemu, media: tmpfs, prompts: ['# ']}\n";
    std::ofstream(dc_ / "devices" / "q1.jinja2") << "{% extends 'qemu.jinja2' %}\n";
    // q1 Unknown with a dictionary: checked; q2 Unknown without one: Bad;
    // q3 Good, checked an hour ago: takes the queued job.
    exec("UPDATE devices SET health = 1 WHERE hostname IN ('q1', 'q2')");
    exec("INSERT INTO test_jobs (submitter_id, health_check, requested_device_type, actual_device, "
         "token, state, health, end_time, submit_time) SELECT id, true, 'qemu', 'q3', "
         "repeat('h', 32), 5, 1, now(), now() - interval '1 hour' FROM users WHERE username = 'lava-health'");
    const auto job = submit({});
    const auto report = pass();
    ASSERT_EQ(report.health_checks.size(), 1u);
    EXPECT_EQ(device_of(report.health_checks[0]), "q1");
    EXPECT_EQ(query("SELECT health_check::text || '/' || description || '/' || is_public::text FROM test_jobs WHERE id = " +
                    std::to_string(report.health_checks[0])),
              "true/qemu health/true");
    EXPECT_EQ(report.devices_bad, std::vector<std::string>{"q2"});
    EXPECT_EQ(query("SELECT health FROM devices WHERE hostname = 'q2'"), "3");
    EXPECT_EQ(device_of(job), "q3");

    // A day later q3 is due again.
    exec("UPDATE test_jobs SET submit_time = submit_time - interval '1 day' WHERE health_check AND actual_device = 'q3'");
    exec("UPDATE devices SET state = 0 WHERE hostname = 'q3'");
    exec("UPDATE test_jobs SET state = 5, end_time = now(), health = 1 WHERE id = " + std::to_string(job));
    std::ofstream(dc_ / "devices" / "q3.jinja2") << "{% extends 'qemu.jinja2' %}\n";
    const auto again = pass();
    ASSERT_EQ(again.health_checks.size(), 1u);
    EXPECT_EQ(device_of(again.health_checks[0]), "q3");
}

TEST_F(SchedulerTest, EventsDescribeTheCommittedPlacement) {
    const auto job = submit({});
    const auto report = pass();
    ASSERT_EQ(report.scheduled, (std::vector<Placement>{{job, "q1"}}));
    bool job_event = false;
    bool device_event = false;
    for (const auto& e : report.events) {
        if (e.topic_suffix == ".testjob") {
            job_event = true;
            EXPECT_THAT(e.payload, HasSubstr("\"state\":\"Scheduled\""));
            EXPECT_THAT(e.payload, HasSubstr("\"device\":\"q1\""));
            EXPECT_THAT(e.payload, HasSubstr("\"worker\":\"w1\""));
        }
        if (e.topic_suffix == ".device") {
            device_event = true;
            EXPECT_THAT(e.payload, HasSubstr("\"state\":\"Reserved\""));
        }
    }
    EXPECT_TRUE(job_event && device_event);
}

TEST_F(SchedulerTest, ManyQueuedJobsAreFetchedInBatches) {
    // 70 jobs whose tags no device has, then one that fits: the pass reads
    // past the first batch (64) to find it.
    for (int i = 0; i < 70; ++i) submit({.tags = {"rare"}});
    const auto fits = submit({});
    pass();
    EXPECT_EQ(device_of(fits), "q1");
}

}  // namespace
}  // namespace lava::test
