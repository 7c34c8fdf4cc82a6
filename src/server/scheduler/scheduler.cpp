#include "server/scheduler/scheduler.hpp"

#include "common/job/validate.hpp"
#include "common/log/log.hpp"
#include "common/proto/states.hpp"
#include "common/yaml/dump.hpp"
#include "common/yaml/load.hpp"
#include "server/store/devices.hpp"
#include "server/store/jobs.hpp"
#include "server/store/sql.hpp"
#include "server/store/transitions.hpp"
#include "server/store/users.hpp"
#include "server/store/workers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>
#include <variant>

namespace lava::server::scheduler {
namespace {

using common::db::Statement;
using common::db::Tx;
using proto::DeviceHealth;
constexpr const char* kActor = "lava-scheduler";

// ---------------------------------------------------------------- SQL

const Statement kQueueTimeouts{
    "scheduler.queue_timeouts",
    "SELECT id FROM test_jobs WHERE state = 0 AND queue_timeout IS NOT NULL "
    "AND submit_time + queue_timeout * interval '1 second' < now() ORDER BY id"};
// Devices that may take a job now: Idle, Good/Unknown/Looping, on an Online
// and Active worker; locked for the pass. With their worker's job_limit,
// their tags, the groups that may submit to them and whether
// a submit permission restricts them.
const Statement kFreeDevices{
    "scheduler.free_devices",
    "WITH busy AS (SELECT worker_host, count(*) AS n FROM devices WHERE state IN (1, 2) GROUP BY 1) "
    "SELECT d.hostname, d.device_type, d.health, d.worker_host, w.job_limit - coalesce(b.n, 0), w.job_limit = 0, "
    "ARRAY(SELECT t.tag_id FROM device_tags t WHERE t.device = d.hostname ORDER BY 1)::text, "
    "ARRAY(SELECT p.group_id FROM group_device_permissions p WHERE p.device = d.hostname "
    " AND p.permission IN ('submit_to_device', 'change_device') ORDER BY 1)::text, "
    "EXISTS (SELECT 1 FROM group_device_permissions p WHERE p.device = d.hostname "
    " AND p.permission = 'submit_to_device') "
    "FROM devices d JOIN workers w ON w.hostname = d.worker_host LEFT JOIN busy b ON b.worker_host = d.worker_host "
    "WHERE d.state = 0 AND d.health IN (0, 1, 2) AND w.state = 0 AND w.health = 0 "
    "ORDER BY d.hostname FOR UPDATE OF d"};
const Statement kTypes{
    "scheduler.types",
    "SELECT dt.name, dt.disable_health_check, dt.health_frequency, dt.health_denominator, "
    "EXISTS (SELECT 1 FROM test_jobs j WHERE j.state = 0 AND j.requested_device_type = dt.name), "
    "(SELECT count(*) FROM devices d WHERE d.device_type = dt.name AND d.health <> 5), "
    "(SELECT count(*) FROM devices d JOIN workers w ON w.hostname = d.worker_host WHERE d.device_type = dt.name "
    " AND d.health IN (0, 1) AND w.state = 0 AND w.health = 0), "
    "ARRAY(SELECT p.group_id FROM group_device_type_permissions p WHERE p.device_type = dt.name "
    " AND p.permission IN ('submit_to_devicetype', 'change_devicetype') ORDER BY 1)::text, "
    "EXISTS (SELECT 1 FROM group_device_type_permissions p WHERE p.device_type = dt.name "
    " AND p.permission = 'submit_to_devicetype') "
    "FROM device_types dt ORDER BY dt.name"};
#define CANDIDATE_COLUMNS                                                                                   \
    "j.id, j.priority, (extract(epoch FROM j.submit_time) * 1000000)::bigint, j.submit_time::text, j.sub_id, " \
    "j.target_group, j.requested_device, j.requested_worker, u.is_superuser, "                              \
    "ARRAY(SELECT t.tag_id FROM test_job_tags t WHERE t.job_id = j.id ORDER BY 1)::text, "                  \
    "ARRAY(SELECT g.group_id FROM user_groups g WHERE g.user_id = j.submitter_id ORDER BY 1)::text, "       \
    "j.requested_device_type, u.username, j.description, " LAVA_SQL_ISO("j.submit_time") ", j.health_check "
// The queue of one device type after a position, in LAVA's order.
const Statement kCandidates{
    "scheduler.candidates",
    "SELECT " CANDIDATE_COLUMNS "FROM test_jobs j JOIN users u ON u.id = j.submitter_id "
    "WHERE j.state = 0 AND j.requested_device_type = $1 AND j.actual_device IS NULL "
    "AND (j.priority < $2 OR (j.priority = $2 AND (j.submit_time, j.sub_id, j.id) > ($3::timestamptz, $4, $5))) "
    "ORDER BY j.priority DESC, j.submit_time, j.sub_id, j.id LIMIT $6"};
const Statement kGroupJobs{
    "scheduler.group_jobs",
    "SELECT " CANDIDATE_COLUMNS "FROM test_jobs j JOIN users u ON u.id = j.submitter_id "
    "WHERE j.target_group = $1 AND j.state = 0 ORDER BY j.id"};
const Statement kDefinitions{"scheduler.definitions",
                             "SELECT job_id, definition FROM test_job_definitions WHERE job_id = ANY($1::bigint[])"};
const Statement kSetDefinition{"scheduler.set_definition",
                               "UPDATE test_job_definitions SET definition = $2 WHERE job_id = $1"};
// Jobs Submitted -> Scheduled on their devices, devices Idle -> Reserved;
// returns how many of each moved (the caller keeps all or none).
// (Matched by `= ANY` and array_position, not by joining unnest(): the
// planner cannot size an unnest and would scan the tables.)
const Statement kAssign{
    "scheduler.assign",
    "WITH j AS (UPDATE test_jobs t SET state = 2, waiting_reason = '', "
    "actual_device = ($2::text[])[array_position($1::bigint[], t.id)] "
    "WHERE t.id = ANY($1::bigint[]) AND t.state = 0 RETURNING t.id), "
    "d AS (UPDATE devices v SET state = 1 WHERE v.hostname = ANY($2::text[]) AND v.state = 0 RETURNING v.hostname) "
    "SELECT (SELECT count(*) FROM j), (SELECT count(*) FROM d)"};
const Statement kLastHealthCheck{
    "scheduler.last_health_check",
    "SELECT now() - h.submit_time > $2::bigint * interval '1 hour', "
    "(SELECT count(*) FROM (SELECT 1 FROM test_jobs j WHERE j.actual_device = $1 AND NOT j.health_check "
    " AND j.start_time >= h.submit_time LIMIT $2::bigint) c) "
    "FROM test_jobs h WHERE h.health_check AND h.actual_device = $1 ORDER BY h.submit_time DESC LIMIT 1"};
// Reasons are text[] parameters: written as PostgreSQL array literals.
const Statement kSetJobReasons{
    "scheduler.set_job_reasons",
    "UPDATE test_jobs t SET waiting_reason = ($2::text[])[array_position($1::bigint[], t.id)] "
    "WHERE t.id = ANY($1::bigint[]) AND t.state = 0 "
    "AND t.waiting_reason <> ($2::text[])[array_position($1::bigint[], t.id)]"};
const Statement kSetTypeReasons{
    "scheduler.set_type_reasons",
    "INSERT INTO device_type_queues (device_type, waiting_reason) SELECT * FROM unnest($1::text[], $2::text[]) "
    "ON CONFLICT (device_type) DO UPDATE SET waiting_reason = EXCLUDED.waiting_reason, updated = now() "
    "WHERE device_type_queues.waiting_reason <> EXCLUDED.waiting_reason"};
const Statement kTagNames{"scheduler.tag_names", "SELECT id, name FROM tags WHERE id = ANY($1::bigint[])"};

// ---------------------------------------------------------------- model

// LAVA's queue order: priority desc, submit time, sub_id, id.
using Key = std::tuple<int, std::int64_t, std::string, std::int64_t>;

struct Candidate {
    std::int64_t id = 0;
    int priority = 50;
    std::int64_t submit_us = 0;
    std::string submit_text;
    std::string sub_id;
    std::optional<std::string> group;
    std::optional<std::string> requested_device;
    std::optional<std::string> requested_worker;
    bool superuser = false;
    std::vector<std::int64_t> tags;    // sorted
    std::vector<std::int64_t> groups;  // the submitter's, sorted
    std::string type;
    // For its event.
    std::string submitter;
    std::string description;
    std::string submit_iso;
    bool health_check = false;
    Key key() const { return {-priority, submit_us, sub_id, id}; }
};

Candidate to_candidate(const pqxx::row& r) {
    Candidate c;
    c.id = r[0].as<std::int64_t>();
    c.priority = r[1].as<int>();
    c.submit_us = r[2].as<std::int64_t>();
    c.submit_text = r[3].as<std::string>();
    c.sub_id = r[4].as<std::string>();
    c.group = store::optional_text(r[5]);
    c.requested_device = store::optional_text(r[6]);
    c.requested_worker = store::optional_text(r[7]);
    c.superuser = r[8].as<bool>();
    c.tags = store::int_array(r[9]);
    c.groups = store::int_array(r[10]);
    c.type = r[11].as<std::string>();
    c.submitter = r[12].as<std::string>();
    c.description = r[13].as<std::string>();
    c.submit_iso = r[14].as<std::string>();
    c.health_check = r[15].as<bool>();
    return c;
}

struct Device {
    std::string hostname;
    std::string type;
    DeviceHealth health = DeviceHealth::kGood;
    std::string worker;
    std::vector<std::int64_t> tags;           // sorted
    std::vector<std::int64_t> submit_groups;  // groups that may submit to it (sorted)
    bool submit_restricted = false;           // a submit_to_device permission exists
    bool taken = false;
};

struct Type {
    std::string name;
    bool health_checks_disabled = false;
    long health_frequency = 24;
    int health_denominator = 0;  // 0 hours, 1 jobs
    bool queued = false;
    long devices = 0;  // not retired
    long usable = 0;   // Good/Unknown on an Online, Active worker
    std::vector<std::int64_t> submit_groups;
    bool submit_restricted = false;
    std::vector<std::size_t> free;  // indices into the pass's devices
    // The stream of its queue.
    std::vector<Candidate> batch;
    std::size_t pos = 0;
    bool more = true;
    bool stopped = false;  // the pass looks no further into this queue
    std::optional<Key> blocked_after;
    std::string blocked_reason;
};

bool intersects(const std::vector<std::int64_t>& sorted_a, const std::vector<std::int64_t>& sorted_b) {
    auto a = sorted_a.begin();
    auto b = sorted_b.begin();
    while (a != sorted_a.end() && b != sorted_b.end()) {
        if (*a == *b) return true;
        if (*a < *b) ++a; else ++b;
    }
    return false;
}

// "1 device", "3 devices".
std::string devices_text(long n) { return std::to_string(n) + (n == 1 ? " device" : " devices"); }

std::string list_text(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
    return out;
}

class Pass {
public:
    // `type_reasons`: what the previous passes stored per type (only changes are written).
    Pass(Tx& tx, const SchedulerSettings& settings, PassReport& report,
         const std::map<std::string, std::string>& type_reasons, bool housekeeping)
        : tx_(tx), settings_(settings), report_(report), stored_reasons_(type_reasons),
          housekeeping_(housekeeping), log_(common::log::get(kActor)) {}

    // The type reasons this pass wrote (to remember once it committed).
    const std::map<std::string, std::string>& written_reasons() const { return written_reasons_; }

    void run() {
        auto t = std::chrono::steady_clock::now();
        auto phase = [&](const char* name) {
            const auto now = std::chrono::steady_clock::now();
            report_.phases += fmt::format("{}{} {:.1f}", report_.phases.empty() ? "" : ", ", name,
                                          std::chrono::duration<double, std::milli>(now - t).count());
            t = now;
        };
        if (housekeeping_) {
            expire_workers();
            queue_timeouts();
            phase("housekeeping");
        }
        load();
        phase("load");
        health_checks();
        phase("health checks");
        place_jobs();
        phase("matching");
        apply();
        phase("assign");
        store_reasons();
        phase("reasons");
        events::collect(tx_, touched_, report_.events);
        phase("events");
    }

private:
    void expire_workers() {
        report_.workers_offline = store::WorkerRepository(tx_).expire_silent(
            settings_.worker_timeout_s,
            {kActor, fmt::format("no ping for {} seconds", settings_.worker_timeout_s)});
        for (const auto& w : report_.workers_offline) {
            log_->info("worker {} is Offline: no ping for {} s", w, settings_.worker_timeout_s);
            events::collect_worker(tx_, w, report_.events);
        }
    }

    void queue_timeouts() {
        store::JobTransitions transitions(tx_, touched_, kActor);
        for (const auto& row : tx_.exec(kQueueTimeouts)) {
            const auto id = row[0].as<std::int64_t>();
            transitions.go_canceling(id);
            report_.timed_out.push_back(id);
            log_->info("job {} canceled: its queue timeout passed", id);
        }
    }

    void load() {
        for (const auto& row : tx_.exec(kFreeDevices)) {
            Device d;
            d.hostname = row[0].as<std::string>();
            d.type = row[1].as<std::string>();
            d.health = static_cast<DeviceHealth>(row[2].as<int>());
            d.worker = row[3].as<std::string>();
            if (!room_.count(d.worker)) room_[d.worker] = row[5].as<bool>() ? LONG_MAX : row[4].as<long>();
            d.tags = store::int_array(row[6]);
            d.submit_groups = store::int_array(row[7]);
            d.submit_restricted = row[8].as<bool>();
            devices_.push_back(std::move(d));
        }
        for (const auto& row : tx_.exec(kTypes)) {
            Type t;
            t.name = row[0].as<std::string>();
            t.health_checks_disabled = row[1].as<bool>();
            t.health_frequency = row[2].as<long>();
            t.health_denominator = row[3].as<int>();
            t.queued = row[4].as<bool>();
            t.devices = row[5].as<long>();
            t.usable = row[6].as<long>();
            t.submit_groups = store::int_array(row[7]);
            t.submit_restricted = row[8].as<bool>();
            types_.emplace(t.name, std::move(t));
        }
        for (std::size_t i = 0; i < devices_.size(); ++i) {
            auto it = types_.find(devices_[i].type);
            if (it != types_.end()) it->second.free.push_back(i);
        }
    }

    // ------------------------------------------------------------ health checks

    void health_checks() {
        for (auto& [name, type] : types_) {
            if (type.health_checks_disabled) {
                // No health checks: Good and Unknown devices take jobs, Looping ones nothing.
                drop_free(type, [&](const Device& d) { return d.health == DeviceHealth::kLooping; });
                continue;
            }
            const auto file = std::filesystem::path(settings_.dispatcher_config) / "health-checks" / (name + ".yaml");
            std::error_code ec;
            if (!std::filesystem::exists(file, ec)) {
                // No health check to run: the devices are available as they are.
                drop_free(type, [&](const Device& d) { return d.health == DeviceHealth::kLooping; });
                continue;
            }
            std::optional<std::string> definition;
            for (auto i : type.free) {
                auto& d = devices_[i];
                if (!health_check_due(d, type)) continue;
                if (!definition) definition = read_file(file);
                if (!health_user_) health_user_ = store::UserRepository(tx_).principal("lava-health");
                schedule_health_check(d, type, *definition, *health_user_);
            }
            drop_free(type, [&](const Device& d) { return d.taken || d.health == DeviceHealth::kLooping; });
        }
    }

    template <class Pred>
    void drop_free(Type& type, Pred pred) {
        type.free.erase(std::remove_if(type.free.begin(), type.free.end(),
                                       [&](std::size_t i) { return pred(devices_[i]); }),
                        type.free.end());
    }

    bool health_check_due(const Device& d, const Type& type) {
        if (d.health == DeviceHealth::kUnknown || d.health == DeviceHealth::kLooping) return true;
        const auto last = tx_.exec01(kLastHealthCheck, d.hostname, type.health_frequency);
        if (!last) return true;  // never checked
        if (type.health_denominator == 1) return (*last)[1].as<long>() >= type.health_frequency;
        return (*last)[0].as<bool>();
    }

    static std::string read_file(const std::filesystem::path& path) {
        std::ifstream in(path);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }

    void schedule_health_check(Device& d, Type& type, const std::string& definition,
                               const std::optional<store::Principal>& user) {
        std::string problem;
        const auto dictionary = std::filesystem::path(settings_.dispatcher_config) / "devices" / (d.hostname + ".jinja2");
        std::error_code ec;
        common::job::JobCheck check;
        if (!std::filesystem::exists(dictionary, ec)) {
            problem = "no device dictionary " + dictionary.string();
        } else if (!user) {
            problem = "no lava-health user";
        } else {
            static const common::job::JobValidator validator(common::job::Strictness::kLenient);
            check = validator.check_yaml(definition);
            if (!check.ok()) problem = "invalid health check: " + check.issues.front().message;
        }
        if (!problem.empty()) {
            store::DeviceRepository(tx_).set_health(d.hostname, proto::DeviceState::kIdle, d.health, DeviceHealth::kBad,
                                                    {kActor, problem});
            log_->warn("device {} is Bad: {}", d.hostname, problem);
            report_.devices_bad.push_back(d.hostname);
            touched_.device(d.hostname);
            d.taken = true;
            return;
        }
        store::NewJob job;
        job.submitter_id = user->id;
        job.submitter = user->username;
        const auto* name = check.document.find("job_name");
        job.description = name && name->is_str() ? name->as_str() : "health check";
        job.health_check = true;
        job.requested_device_type = type.name;
        const auto* visibility = check.document.find("visibility");
        job.is_public = visibility && visibility->is_str() && visibility->as_str() == "public";
        const auto* priority = check.document.find("priority");
        if (priority && priority->is_int()) job.priority = static_cast<int>(priority->as_int());
        job.definition = definition;
        job.original_definition = definition;
        const auto created = store::JobRepository(tx_).insert(job);
        plan({{{created.id, static_cast<std::size_t>(&d - devices_.data())}}, {}, {}});
        report_.health_checks.push_back(created.id);
        log_->info("health check {} scheduled on {}", created.id, d.hostname);
    }

    // ------------------------------------------------------------ jobs

    // Jobs that start together (one job, or a whole MultiNode group).
    struct Unit {
        std::vector<std::pair<std::int64_t, std::size_t>> jobs;  // job, device index
        std::vector<Candidate> group;                             // a group's jobs, for its roles map
        std::vector<Candidate> queued;  // the jobs' queue rows (events from memory); none: read them back
    };

    // Books the devices now; the database follows in apply().
    void plan(Unit unit) {
        for (const auto& [job, i] : unit.jobs) {
            devices_[i].taken = true;
            if (room_[devices_[i].worker] != LONG_MAX) --room_[devices_[i].worker];
        }
        units_.push_back(std::move(unit));
    }

    // Writes every planned unit: all in one statement; should a job or a
    // device have moved meanwhile (a cancel, a second scheduler), unit by
    // unit, each whole or not at all.
    void apply() {
        if (units_.empty()) return;
        auto write = [&](const std::vector<const Unit*>& units) {
            std::vector<std::int64_t> ids;
            std::vector<std::string> hostnames;
            for (const auto* u : units) {
                for (const auto& [job, i] : u->jobs) {
                    ids.push_back(job);
                    hostnames.push_back(devices_[i].hostname);
                }
            }
            tx_.savepoint();
            const auto r = tx_.exec1(kAssign, store::int_array_literal(ids), store::text_array_literal(hostnames));
            if (r[0].as<std::size_t>() == ids.size() && r[1].as<std::size_t>() == ids.size()) {
                tx_.release_savepoint();
                return true;
            }
            tx_.rollback_to_savepoint();
            return false;
        };
        std::vector<const Unit*> all;
        for (const auto& u : units_) all.push_back(&u);
        std::vector<const Unit*> written;
        if (write(all)) {
            written = all;
        } else {
            for (const auto* u : all) {
                if (write({u})) {
                    written.push_back(u);
                } else {
                    for (const auto& [job, i] : u->jobs) reasons_[job] = "the job or its device changed during the pass";
                }
            }
        }
        std::vector<events::PendingEvent> device_events;
        for (const auto* u : written) {
            for (std::size_t k = 0; k < u->jobs.size(); ++k) {
                const auto& [job, i] = u->jobs[k];
                report_.scheduled.push_back({job, devices_[i].hostname});
                reasons_.erase(job);
                if (u->queued.size() != u->jobs.size()) {
                    touched_.job(job);
                    touched_.device(devices_[i].hostname);
                    continue;
                }
                // What the rows say now, without reading them back.
                const auto& c = u->queued[k];
                const auto& d = devices_[i];
                store::Job j;
                j.id = job;
                j.sub_id = c.sub_id;
                j.submitter = c.submitter;
                j.description = c.description;
                j.health_check = c.health_check;
                j.requested_device_type = c.type;
                j.actual_device = d.hostname;
                j.worker = d.worker;
                j.submit_time = c.submit_iso;
                j.state = proto::JobState::kScheduled;
                j.priority = c.priority;
                report_.events.push_back(events::job_event(j));
                store::Device dev;
                dev.hostname = d.hostname;
                dev.device_type = d.type;
                dev.state = proto::DeviceState::kReserved;
                dev.health = d.health;
                dev.worker = d.worker;
                dev.current_job = job;
                device_events.push_back(events::device_pending_event(dev));
            }
            if (!u->group.empty()) inject_roles(u->group);
        }
        report_.events.insert(report_.events.end(), device_events.begin(), device_events.end());
    }

    bool may_submit(const Candidate& c, const Device& d, const Type& t) const {
        if (c.superuser) return true;
        if (intersects(c.groups, d.submit_groups)) return true;
        if (d.submit_restricted) return false;
        return !t.submit_restricted || intersects(c.groups, t.submit_groups);
    }

    // The free device `c` may take (fewest tags, then name), or why none.
    std::variant<std::size_t, std::string> pick(const Candidate& c, const std::set<std::size_t>& tentative) {
        const auto it = types_.find(c.type);
        if (it == types_.end()) return std::string("unknown device type '" + c.type + "'");
        const Type& t = it->second;
        std::vector<std::size_t> pool;
        for (auto i : t.free) {
            if (!devices_[i].taken && !tentative.count(i)) pool.push_back(i);
        }
        if (pool.empty()) return fmt::format("all usable devices of type '{}' are busy ({})", t.name, devices_text(t.usable));
        auto keep = [&](auto pred) {
            pool.erase(std::remove_if(pool.begin(), pool.end(), [&](std::size_t i) { return !pred(devices_[i]); }),
                       pool.end());
            return !pool.empty();
        };
        if (c.requested_device && !keep([&](const Device& d) { return d.hostname == *c.requested_device; })) {
            return "the requested device " + *c.requested_device + " is not available";
        }
        if (c.requested_worker && !keep([&](const Device& d) { return d.worker == *c.requested_worker; })) {
            return "no device of type '" + t.name + "' is available on the requested worker " + *c.requested_worker;
        }
        if (!keep([&](const Device& d) { return std::includes(d.tags.begin(), d.tags.end(), c.tags.begin(), c.tags.end()); })) {
            return "no available device of type '" + t.name + "' has the tags " + tag_names(c.tags);
        }
        if (!keep([&](const Device& d) { return may_submit(c, d, t); })) {
            return "the submitter may not use the available devices of type '" + t.name + "'";
        }
        if (!keep([&](const Device& d) { return room_[d.worker] > 0; })) {
            return "the workers of the available devices of type '" + t.name + "' are at their job limit";
        }
        return *std::min_element(pool.begin(), pool.end(), [&](std::size_t a, std::size_t b) {
            const auto& da = devices_[a];
            const auto& db = devices_[b];
            return std::make_tuple(da.tags.size(), std::cref(da.hostname)) < std::make_tuple(db.tags.size(), std::cref(db.hostname));
        });
    }

    std::string tag_names(const std::vector<std::int64_t>& ids) {
        std::vector<std::string> names;
        for (const auto& row : tx_.exec(kTagNames, store::int_array_literal(ids))) names.push_back(row[1].as<std::string>());
        std::sort(names.begin(), names.end());
        return list_text(names);
    }

    // The next job of a type's queue, fetching a batch when needed.
    Candidate* head(Type& t) {
        if (t.stopped) return nullptr;
        if (t.pos == t.batch.size()) {
            if (!t.more) return nullptr;
            const std::size_t limit = std::max<std::size_t>(64, t.free.size() * 4);
            pqxx::result rows;
            if (t.batch.empty()) {
                rows = tx_.exec(kCandidates, t.name, 101, "epoch", "", 0, static_cast<long>(limit));
            } else {
                const auto& last = t.batch.back();
                rows = tx_.exec(kCandidates, t.name, last.priority, last.submit_text, last.sub_id, last.id,
                                static_cast<long>(limit));
            }
            t.batch.clear();
            t.pos = 0;
            for (const auto& r : rows) t.batch.push_back(to_candidate(r));
            t.more = rows.size() == limit;
            if (t.batch.empty()) return nullptr;
        }
        return &t.batch[t.pos];
    }

    void place_jobs() {
        for (;;) {
            Type* best = nullptr;
            Candidate* next = nullptr;
            for (auto& [name, t] : types_) {
                if (!t.queued || !has_free(t)) continue;
                Candidate* c = head(t);
                if (c && (!next || c->key() < next->key())) {
                    best = &t;
                    next = c;
                }
            }
            if (!next) break;
            const Candidate c = *next;
            ++best->pos;
            if (best->blocked_after && *best->blocked_after < c.key()) {
                best->stopped = true;  // every later job waits behind the group too
                continue;
            }
            if (c.group) {
                if (groups_done_.insert(*c.group).second) place_group(c);
                continue;
            }
            auto picked = pick(c, {});
            if (auto* i = std::get_if<std::size_t>(&picked)) {
                plan({{{c.id, *i}}, {}, {c}});
            } else {
                reasons_[c.id] = std::get<std::string>(picked);
            }
        }
    }

    bool has_free(const Type& t) const {
        return std::any_of(t.free.begin(), t.free.end(), [&](std::size_t i) { return !devices_[i].taken; });
    }

    // All the group's Submitted jobs get a device now, or none does.
    void place_group(const Candidate& first) {
        std::vector<Candidate> jobs;
        for (const auto& r : tx_.exec(kGroupJobs, *first.group)) jobs.push_back(to_candidate(r));
        std::set<std::size_t> tentative;
        std::vector<std::pair<const Candidate*, std::size_t>> picks;
        std::map<std::string, long> demand;
        std::string missing;
        for (const auto& j : jobs) {
            ++demand[j.type];
            auto picked = pick(j, tentative);
            if (auto* i = std::get_if<std::size_t>(&picked)) {
                tentative.insert(*i);
                picks.emplace_back(&j, *i);
            } else if (missing.empty()) {
                missing = "job " + (j.sub_id.empty() ? std::to_string(j.id) : j.sub_id) + ": " +
                          std::get<std::string>(picked);
            }
        }
        const std::string group_id = jobs.empty() ? first.sub_id : jobs.front().sub_id;
        if (missing.empty() && !jobs.empty()) {
            Unit unit;
            for (const auto& [job, i] : picks) {
                unit.jobs.emplace_back(job->id, i);
                unit.queued.push_back(*job);
            }
            unit.group = jobs;
            plan(std::move(unit));
            log_->info("MultiNode group {} scheduled ({} jobs)", group_id, jobs.size());
            return;
        }
        // Could the group start once busy devices are free? Then it keeps
        // later jobs off the types it needs; otherwise it blocks nobody.
        bool feasible = true;
        std::string shortfall;
        for (const auto& [type, n] : demand) {
            const auto it = types_.find(type);
            const long usable = it == types_.end() ? 0 : it->second.usable;
            if (usable < n) {
                feasible = false;
                shortfall = fmt::format("it needs {} of type '{}', {} usable", devices_text(n), type, usable);
            }
        }
        std::string reason;
        if (feasible) {
            reason = "MultiNode group " + group_id + " waits for all its devices (" + missing + ")";
            for (const auto& [type, n] : demand) {
                auto& t = types_.at(type);
                if (!t.blocked_after || first.key() < *t.blocked_after) {
                    t.blocked_after = first.key();
                    t.blocked_reason = "queued behind MultiNode group " + group_id +
                                       ", which waits for devices of type '" + type + "'";
                }
            }
        } else {
            reason = "MultiNode group " + group_id + " cannot start: " + shortfall;
        }
        for (const auto& j : jobs) reasons_[j.id] = reason;
    }

    // LAVA's `roles` map ({job id: role}) in every definition of the group.
    void inject_roles(const std::vector<Candidate>& jobs) {
        std::vector<std::int64_t> ids;
        for (const auto& j : jobs) ids.push_back(j.id);
        std::map<std::int64_t, common::data::Value> documents;
        for (const auto& row : tx_.exec(kDefinitions, store::int_array_literal(ids))) {
            auto doc = common::yaml::load(row[1].as<std::string>());
            if (doc) documents.emplace(row[0].as<std::int64_t>(), std::move(*doc));
        }
        common::data::Dict roles;
        for (const auto& [id, doc] : documents) {
            const auto* protocols = doc.find("protocols");
            const auto* mn = protocols ? protocols->find("lava-multinode") : nullptr;
            const auto* role = mn ? mn->find("role") : nullptr;
            if (role) roles.emplace_back(common::data::Value(std::to_string(id)), *role);
        }
        const common::data::Value roles_value(roles);
        for (const auto& [id, doc] : documents) {
            tx_.exec(kSetDefinition, id, common::yaml::dump(with_roles(doc, roles_value)));
        }
    }

    static common::data::Value with_roles(const common::data::Value& doc, const common::data::Value& roles) {
        const auto* protocols = doc.find("protocols");
        const auto* mn = protocols ? protocols->find("lava-multinode") : nullptr;
        if (!mn || !mn->is_dict() || !protocols->is_dict() || !doc.is_dict()) return doc;
        using common::data::with_item;
        return with_item(doc, "protocols", with_item(*protocols, "lava-multinode", with_item(*mn, "roles", roles)));
    }

    // ------------------------------------------------------------ reasons

    void store_reasons() {
        if (!reasons_.empty()) {
            std::vector<std::int64_t> ids;
            std::vector<std::string> texts;
            for (const auto& [id, reason] : reasons_) {
                ids.push_back(id);
                texts.push_back(reason);
            }
            tx_.exec(kSetJobReasons, store::int_array_literal(ids), store::text_array_literal(texts));
        }
        std::vector<std::string> type_names;
        std::vector<std::string> type_reasons;
        for (const auto& [name, t] : types_) {
            if (!t.queued) continue;
            std::string reason;
            if (t.devices == 0) {
                reason = "no device of type '" + name + "'";
            } else if (t.usable == 0) {
                reason = fmt::format("no usable device of type '{}': {} in Maintenance, Bad or Looping, or on "
                                     "an offline or inactive worker", name, devices_text(t.devices));
            } else if (t.blocked_after) {
                reason = t.blocked_reason;
            } else if (!has_free(t)) {
                reason = fmt::format("all usable devices of type '{}' are busy ({})", name, devices_text(t.usable));
            } else {
                reason = "waiting for a free device of type '" + name + "' that it may use";
            }
            const auto known = stored_reasons_.find(name);
            if (known != stored_reasons_.end() && known->second == reason) continue;
            type_names.push_back(name);
            type_reasons.push_back(reason);
            written_reasons_[name] = reason;
        }
        if (!type_names.empty()) tx_.exec(kSetTypeReasons, store::text_array_literal(type_names), store::text_array_literal(type_reasons));
    }

    Tx& tx_;
    const SchedulerSettings& settings_;
    PassReport& report_;
    const std::map<std::string, std::string>& stored_reasons_;
    std::map<std::string, std::string> written_reasons_;
    const bool housekeeping_;
    std::shared_ptr<spdlog::logger> log_;
    store::Touched touched_;
    std::vector<Device> devices_;
    std::map<std::string, Type> types_;  // by name: LAVA's type order
    std::map<std::string, long> room_;   // jobs each worker may still take
    std::set<std::string> groups_done_;
    std::vector<Unit> units_;
    std::optional<std::optional<store::Principal>> health_user_;
    std::map<std::int64_t, std::string> reasons_;
};

}  // namespace

Scheduler::Scheduler(common::db::Pool& pool, SchedulerSettings settings)
    : pool_(pool), settings_(std::move(settings)) {}

PassReport Scheduler::pass() {
    const auto start = std::chrono::steady_clock::now();
    PassReport report;
    std::map<std::string, std::string> written;
    // Silent workers and queue timeouts need no millisecond reaction: a
    // burst of event-driven passes looks at them once a second.
    const bool housekeeping = start - last_housekeeping_ >= std::chrono::seconds(1);
    common::db::transact(pool_, [&](Tx& tx) {
        Pass pass(tx, settings_, report, type_reasons_, housekeeping);
        pass.run();
        written = pass.written_reasons();
    });
    for (auto& [type, reason] : written) type_reasons_[type] = std::move(reason);
    if (housekeeping) last_housekeeping_ = start;
    report.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    return report;
}

}  // namespace lava::server::scheduler
