#include "server/store/devices.hpp"

#include "server/store/catalogue.hpp"
#include "server/store/names.hpp"
#include "server/store/sql.hpp"
#include "server/store/users.hpp"
#include "server/store/workers.hpp"

namespace lava::server::store {
namespace {

using common::db::Statement;
using proto::DeviceHealth;
using proto::DeviceState;

#define DEVICE_SELECT                                                                        \
    "SELECT d.hostname, d.device_type, d.description, d.state, d.health, d.worker_host, "    \
    "ARRAY(SELECT t.name FROM device_tags dt JOIN tags t ON t.id = dt.tag_id "               \
    "WHERE dt.device = d.hostname ORDER BY t.name), "                                        \
    "pu.username, pg.name, ou.username, og.name, "                                           \
    "(SELECT j.id FROM test_jobs j WHERE j.actual_device = d.hostname AND j.state BETWEEN 1 AND 4 " \
    "ORDER BY j.id DESC LIMIT 1), " /* test_jobs_active_device_idx */                                     \
    "d.device_version, d.physical_owner_id, d.physical_group_id, "                           \
    "ARRAY(SELECT dt.tag_id::text FROM device_tags dt WHERE dt.device = d.hostname ORDER BY 1), " \
    "d.last_health_report_job, d.is_synced "                                                 \
    "FROM devices d "                                                                        \
    "LEFT JOIN users pu ON pu.id = d.physical_owner_id "                                     \
    "LEFT JOIN groups pg ON pg.id = d.physical_group_id "                                    \
    "LEFT JOIN users ou ON ou.id = d.owner_id "                                              \
    "LEFT JOIN groups og ON og.id = d.group_id "

const Statement kInsertDevice{
    "devices.insert",
    "INSERT INTO devices (hostname, device_type, worker_host, description, state, health) "
    "VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT (hostname) DO NOTHING RETURNING state"};
const Statement kGetDevice{"devices.get", DEVICE_SELECT "WHERE d.hostname = $1"};
const Statement kListDevices{
    "devices.list",
    DEVICE_SELECT
    "WHERE ($1::smallint IS NULL OR d.state = $1) AND ($2::smallint IS NULL OR d.health = $2) "
    "AND ($2::smallint IS NOT NULL OR $3 OR d.health <> 5) "
    "AND ($4::text IS NULL OR d.device_type = $4) AND ($5::text IS NULL OR d.worker_host = $5) "
    "ORDER BY d.hostname"};
const Statement kLockDevice{"devices.lock",
                            "SELECT state, health FROM devices WHERE hostname = $1 FOR UPDATE"};
const Statement kUpdateDevice{
    "devices.update",
    "UPDATE devices SET description = coalesce($2, description), "
    "worker_host = coalesce($3, worker_host), device_type = coalesce($4, device_type) "
    "WHERE hostname = $1"};
const Statement kDeleteDevice{"devices.delete", "DELETE FROM devices WHERE hostname = $1"};
const Statement kSetHealth{"devices.set_health",
                           "UPDATE devices SET health = $2 WHERE hostname = $1"};
const Statement kHistory{
    "devices.history_insert",
    "INSERT INTO device_state_changes (device, actor, old_state, new_state, old_health, "
    "new_health, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)"};
const Statement kListHistory{
    "devices.history",
    "SELECT " LAVA_SQL_ISO("changed_at") ", actor, old_state, new_state, old_health, new_health, "
    "reason FROM device_state_changes WHERE device = $1 ORDER BY id"};
const Statement kAddTag{"devices.add_tag",
                        "INSERT INTO device_tags (device, tag_id) VALUES ($1, $2) "
                        "ON CONFLICT DO NOTHING"};
const Statement kRemoveTag{"devices.remove_tag",
                           "DELETE FROM device_tags WHERE device = $1 AND tag_id = $2"};
const Statement kClearTags{"devices.clear_tags", "DELETE FROM device_tags WHERE device = $1"};
// What a submission checks about its device type, in one round trip.
// Superusers skip the permission rules. Tags are counted by a further
// statement, only when a job asks for some. No statement takes a value
// that changes its plan's estimates (a boolean switch, an array whose
// length the planner sees), so PostgreSQL keeps one generic plan for each
// instead of planning the query on every call.
#define LAVA_SUBMIT_TYPE                                                                   \
    "WITH t AS MATERIALIZED (SELECT coalesce((SELECT a.device_type FROM aliases a WHERE " \
    "a.name = $1), (SELECT dt.name FROM device_types dt WHERE dt.name = $1)) AS name) "
const Statement kSubmitTarget{
    "devices.submit_target",
    LAVA_SUBMIT_TYPE "SELECT t.name, " LAVA_SQL_TYPE_VISIBLE("t.name", "$2") ", "
    "(SELECT count(*) FROM devices d WHERE " LAVA_SQL_DEVICE_SUBMITTABLE("t.name", "$2") ") FROM t"};
const Statement kSubmitTargetAll{
    "devices.submit_target_all",
    LAVA_SUBMIT_TYPE "SELECT t.name, true, "
    "(SELECT count(*) FROM devices d WHERE d.device_type = t.name AND d.health <> 5) FROM t"};
const Statement kSubmitTagged{
    "devices.submit_tagged",
    "SELECT count(*) FROM devices d WHERE ($4 OR " LAVA_SQL_DEVICE_SUBMITTABLE("$1", "$2") ") AND "
    "d.device_type = $1 AND d.health <> 5 AND " LAVA_SQL_DEVICE_HAS_TAGS("$3")};
const Statement kSetPhysical{
    "devices.set_physical",
    "UPDATE devices SET physical_owner_id = $2, physical_group_id = $3 WHERE hostname = $1"};
const Statement kSetOwner{"devices.set_owner",
                          "UPDATE devices SET owner_id = $2, group_id = $3 WHERE hostname = $1"};

std::optional<std::string> opt_text(const pqxx::field& f) {
    if (f.is_null()) return std::nullopt;
    return f.as<std::string>();
}

// Group permission rows: a permission implies the lower ones (change > submit > view).
const Statement kVisibleDevices{
    "devices.visible",
    "SELECT d.hostname FROM devices d WHERE $1 "
    "  OR EXISTS (SELECT 1 FROM group_device_permissions p WHERE p.device = d.hostname "
    "     AND p.permission IN ('view_device', 'submit_to_device', 'change_device') AND p.group_id = ANY($2::bigint[])) "
    "  OR (NOT EXISTS (SELECT 1 FROM group_device_permissions p WHERE p.device = d.hostname "
    "         AND p.permission = 'view_device') "
    "      AND (NOT EXISTS (SELECT 1 FROM group_device_type_permissions p WHERE p.device_type = d.device_type "
    "              AND p.permission = 'view_devicetype') "
    "           OR EXISTS (SELECT 1 FROM group_device_type_permissions p WHERE p.device_type = d.device_type "
    "              AND p.permission IN ('view_devicetype', 'submit_to_devicetype', 'change_devicetype') "
    "              AND p.group_id = ANY($2::bigint[])))) "
    "ORDER BY d.hostname"};
const Statement kCanChange{
    "devices.can_change",
    "SELECT EXISTS (SELECT 1 FROM group_device_permissions p WHERE p.device = d.hostname "
    "  AND p.permission = 'change_device' AND p.group_id = ANY($2::bigint[])) "
    "OR (NOT EXISTS (SELECT 1 FROM group_device_permissions p WHERE p.device = d.hostname "
    "      AND p.permission = 'change_device') "
    "    AND EXISTS (SELECT 1 FROM group_device_type_permissions p WHERE p.device_type = d.device_type "
    "      AND p.permission = 'change_devicetype' AND p.group_id = ANY($2::bigint[]))) "
    "FROM devices d WHERE d.hostname = $1"};

Device to_device(const pqxx::row& r) {
    Device d;
    d.hostname = r[0].as<std::string>();
    d.device_type = r[1].as<std::string>();
    d.description = optional_text(r[2]);
    d.state = static_cast<DeviceState>(r[3].as<int>());
    d.health = static_cast<DeviceHealth>(r[4].as<int>());
    d.worker = opt_text(r[5]);
    d.tags = text_array(r[6]);
    d.physical_owner = opt_text(r[7]);
    d.physical_group = opt_text(r[8]);
    d.owner = opt_text(r[9]);
    d.group = opt_text(r[10]);
    if (!r[11].is_null()) d.current_job = r[11].as<std::int64_t>();
    d.device_version = optional_text(r[12]);
    if (!r[13].is_null()) d.physical_owner_id = r[13].as<std::int64_t>();
    if (!r[14].is_null()) d.physical_group_id = r[14].as<std::int64_t>();
    for (const auto& id : text_array(r[15])) d.tag_ids.push_back(std::stoll(id));
    if (!r[16].is_null()) d.last_health_report_job = r[16].as<std::int64_t>();
    d.is_synced = r[17].as<bool>();
    return d;
}

std::optional<int> to_db(std::optional<DeviceState> s) {
    if (!s) return std::nullopt;
    return static_cast<int>(*s);
}
std::optional<int> to_db(std::optional<DeviceHealth> h) {
    if (!h) return std::nullopt;
    return static_cast<int>(*h);
}

}  // namespace

Result<void> DeviceRepository::apply_ownership(const std::string& hostname, const Ownership& o) {
    if (o.physical_user && o.physical_group) {
        return make_error(errc::kInvalidArgument,
                          "give either a physical user or a physical group, not both");
    }
    if (o.owner && o.group) {
        return make_error(errc::kInvalidArgument, "give either an owner or a group, not both");
    }
    // One of a user or a group, stored by `set` as (user id, group id): naming
    // one clears the other of the same kind, as LAVA does.
    auto assign = [&](const Statement& set, const std::optional<std::string>& user,
                      const std::optional<std::string>& group) -> Result<void> {
        if (user) {
            auto u = UserRepository(tx_).get(*user);
            if (!u) return u.error();
            tx_.exec(set, hostname, u->id, std::optional<std::int64_t>{});
        } else if (group) {
            auto g = GroupRepository(tx_).id_of(*group);
            if (!g) return g.error();
            tx_.exec(set, hostname, std::optional<std::int64_t>{}, *g);
        }
        return {};
    };
    if (auto ok = assign(kSetPhysical, o.physical_user, o.physical_group); !ok) return ok;
    return assign(kSetOwner, o.owner, o.group);
}

Result<void> DeviceRepository::set_tags(const std::string& hostname,
                                        const std::vector<std::string>& tags) {
    tx_.exec(kClearTags, hostname);
    TagRepository repo(tx_);
    for (const auto& name : tags) {
        auto tag = repo.get_or_create(name);
        if (!tag) return tag.error();
        tx_.exec(kAddTag, hostname, tag->id);
    }
    return {};
}

Result<Device> DeviceRepository::create(const NewDevice& nd, const Change& change) {
    if (auto ok = check_name("device hostname", nd.hostname, 200); !ok) return ok.error();
    if (auto dt = DeviceTypeRepository(tx_).get(nd.device_type); !dt) return dt.error();
    std::optional<std::string> worker;
    if (!nd.worker.empty()) {
        if (auto w = WorkerRepository(tx_).get(nd.worker); !w) return w.error();
        worker = nd.worker;
    }
    auto r = tx_.exec(kInsertDevice, nd.hostname, nd.device_type, worker, nd.description,
                      static_cast<int>(nd.health));
    if (r.empty()) return already_exists("device", nd.hostname);
    if (auto ok = set_tags(nd.hostname, nd.tags); !ok) return ok.error();
    if (auto ok = apply_ownership(nd.hostname, nd.ownership); !ok) return ok.error();
    tx_.exec(kHistory, nd.hostname, change.actor, std::optional<int>{}, r[0][0].as<int>(),
             std::optional<int>{}, static_cast<int>(nd.health),
             with_reason("created", change.reason));
    return get(nd.hostname);
}

Result<void> DeviceRepository::remove(const std::string& hostname, const Change& change) {
    auto locked = tx_.exec01(kLockDevice, hostname);
    if (!locked) return not_found("device", hostname);
    const int state = (*locked)[0].as<int>();
    const int health = (*locked)[1].as<int>();
    tx_.exec(kDeleteDevice, hostname);
    // The history outlives the device: its last entry says it went.
    tx_.exec(kHistory, hostname, change.actor, state, state, health, health, with_reason("deleted", change.reason));
    return {};
}

Result<Device> DeviceRepository::get(const std::string& hostname) {
    auto row = tx_.exec01(kGetDevice, hostname);
    if (!row) return not_found("device", hostname);
    return to_device(*row);
}

std::vector<Device> DeviceRepository::list(const DeviceFilter& f) {
    std::vector<Device> out;
    for (const auto& row : tx_.exec(kListDevices, to_db(f.state), to_db(f.health),
                                    f.include_retired, f.device_type, f.worker)) {
        out.push_back(to_device(row));
    }
    return out;
}

Result<Device> DeviceRepository::update(const std::string& hostname, const DeviceUpdate& u,
                                        const Change& change) {
    auto locked = tx_.exec01(kLockDevice, hostname);
    if (!locked) return not_found("device", hostname);
    if (u.device_type) {
        if (auto dt = DeviceTypeRepository(tx_).get(*u.device_type); !dt) return dt.error();
    }
    if (u.worker) {
        if (auto w = WorkerRepository(tx_).get(*u.worker); !w) return w.error();
    }
    tx_.exec(kUpdateDevice, hostname, u.description, u.worker, u.device_type);
    if (u.tags) {
        if (auto ok = set_tags(hostname, *u.tags); !ok) return ok.error();
    }
    if (auto ok = apply_ownership(hostname, u.ownership); !ok) return ok.error();
    const auto old_health = static_cast<DeviceHealth>((*locked)[1].as<int>());
    if (u.health && *u.health != old_health) {
        set_health(hostname, static_cast<DeviceState>((*locked)[0].as<int>()), old_health,
                   *u.health, change);
    }
    return get(hostname);
}

void DeviceRepository::set_health(const std::string& hostname, DeviceState state,
                                  DeviceHealth old_health, DeviceHealth new_health,
                                  const Change& change) {
    tx_.exec(kSetHealth, hostname, static_cast<int>(new_health));
    tx_.exec(kHistory, hostname, change.actor, static_cast<int>(state), static_cast<int>(state),
             static_cast<int>(old_health), static_cast<int>(new_health),
             with_reason(std::string(proto::display(old_health)) + " → " +
                             std::string(proto::display(new_health)),
                         change.reason));
}

std::vector<DeviceHistoryEntry> DeviceRepository::history(const std::string& hostname) {
    std::vector<DeviceHistoryEntry> out;
    for (const auto& r : tx_.exec(kListHistory, hostname)) {
        DeviceHistoryEntry e;
        e.changed_at = r[0].as<std::string>();
        e.actor = r[1].as<std::string>();
        if (!r[2].is_null()) e.old_state = static_cast<DeviceState>(r[2].as<int>());
        e.new_state = static_cast<DeviceState>(r[3].as<int>());
        if (!r[4].is_null()) e.old_health = static_cast<DeviceHealth>(r[4].as<int>());
        e.new_health = static_cast<DeviceHealth>(r[5].as<int>());
        e.reason = r[6].as<std::string>();
        out.push_back(std::move(e));
    }
    return out;
}

std::vector<std::string> DeviceRepository::visible(const std::optional<Principal>& viewer) {
    std::vector<std::string> out;
    const bool all = viewer && viewer->is_superuser;
    for (const auto& r : tx_.exec(kVisibleDevices, all, int_array_literal(viewer ? viewer->group_ids : std::vector<std::int64_t>{}))) {
        out.push_back(r[0].as<std::string>());
    }
    return out;
}

bool DeviceRepository::can_change(const std::string& hostname, const Principal& user) {
    if (user.is_superuser) return true;
    auto r = tx_.exec01(kCanChange, hostname, int_array_literal(user.group_ids));
    return r && (*r)[0].as<bool>();
}

SubmitTarget DeviceRepository::submit_target(const std::string& name_or_alias, const Principal& user,
                                            const std::vector<std::int64_t>& tag_ids) {
    const bool everything = user.is_superuser || user.username == "lava-health";
    const auto groups = int_array_literal(user.group_ids);
    const auto r = everything ? tx_.exec1(kSubmitTargetAll, name_or_alias)
                              : tx_.exec1(kSubmitTarget, name_or_alias, groups);
    SubmitTarget t;
    if (r[0].is_null()) return t;
    t.device_type = r[0].as<std::string>();
    t.visible = r[1].as<bool>();
    t.submittable = r[2].as<long>();
    t.tagged = t.submittable;
    if (!tag_ids.empty()) {
        t.tagged = tx_.exec1(kSubmitTagged, *t.device_type, groups, int_array_literal(tag_ids), everything)[0]
                       .as<long>();
    }
    return t;
}

Result<void> DeviceRepository::add_tags(const std::string& hostname,
                                        const std::vector<std::string>& tags) {
    if (!tx_.exec01(kLockDevice, hostname)) return not_found("device", hostname);
    TagRepository repo(tx_);
    for (const auto& name : tags) {
        auto tag = repo.get(name);
        if (!tag) return tag.error();
        tx_.exec(kAddTag, hostname, tag->id);
    }
    return {};
}

Result<void> DeviceRepository::remove_tags(const std::string& hostname,
                                           const std::vector<std::string>& tags) {
    if (!tx_.exec01(kLockDevice, hostname)) return not_found("device", hostname);
    TagRepository repo(tx_);
    for (const auto& name : tags) {
        auto tag = repo.get(name);
        if (!tag) return tag.error();
        if (tx_.exec(kRemoveTag, hostname, tag->id).affected_rows() == 0) {
            return make_error(errc::kNotFound,
                              "device '" + hostname + "' does not have tag '" + name + "'");
        }
    }
    return {};
}

}  // namespace lava::server::store
