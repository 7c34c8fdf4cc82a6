#include "server/store/catalogue.hpp"

#include "server/store/names.hpp"
#include "server/store/sql.hpp"

namespace lava::server::store {
namespace {

using common::db::Statement;

#define DEVICE_TYPE_SELECT                                                                    \
    "SELECT dt.name, dt.description, dt.health_frequency, dt.health_denominator, "            \
    "dt.disable_health_check, dt.display, "                                                   \
    "ARRAY(SELECT a.name FROM aliases a WHERE a.device_type = dt.name ORDER BY a.name), "     \
    "(SELECT count(*) FROM devices d WHERE d.device_type = dt.name), "                        \
    "dt.architecture, dt.processor, dt.cpu_model, dt.bits, dt.core_count, "                   \
    "ARRAY(SELECT c.core FROM device_type_cores c WHERE c.device_type = dt.name ORDER BY 1) "  \
    "FROM device_types dt "

const Statement kInsertDeviceType{
    "device_types.insert",
    "INSERT INTO device_types (name, description, health_frequency, health_denominator, "
    "disable_health_check, display) VALUES ($1, $2, $3, $4, $5, $6) "
    "ON CONFLICT (name) DO NOTHING RETURNING name"};
const Statement kGetDeviceType{"device_types.get", DEVICE_TYPE_SELECT "WHERE dt.name = $1"};
const Statement kListDeviceTypes{"device_types.list", DEVICE_TYPE_SELECT "ORDER BY dt.name"};
const Statement kUpdateDeviceType{
    "device_types.update",
    "UPDATE device_types SET description = coalesce($2, description), "
    "health_frequency = coalesce($3, health_frequency), "
    "health_denominator = coalesce($4, health_denominator), "
    "disable_health_check = coalesce($5, disable_health_check), "
    "display = coalesce($6, display) WHERE name = $1 RETURNING name"};

const Statement kCountTypeUse{
    "device_types.count_use",
    "SELECT (SELECT count(*) FROM devices WHERE device_type = $1) + "
    "(SELECT count(*) FROM test_jobs WHERE requested_device_type = $1)"};
const Statement kDeleteDeviceType{"device_types.delete", "DELETE FROM device_types WHERE name = $1"};
const Statement kResolveType{
    "device_types.resolve",
    "SELECT coalesce((SELECT a.device_type FROM aliases a WHERE a.name = $1), "
    "(SELECT dt.name FROM device_types dt WHERE dt.name = $1))"};
const Statement kTypeVisible{"device_types.visible", "SELECT " LAVA_SQL_TYPE_VISIBLE("$1", "$2")};

// Submitting to a type: unrestricted unless some group holds its submit permission.
const Statement kTypeSubmittable{
    "device_types.submittable",
    "SELECT NOT EXISTS (SELECT 1 FROM group_device_type_permissions p WHERE p.device_type = $1 AND "
    "p.permission = 'submit_to_devicetype') OR EXISTS (SELECT 1 FROM group_device_type_permissions p WHERE "
    "p.device_type = $1 AND p.permission IN ('submit_to_devicetype', 'change_devicetype') "
    "AND p.group_id = ANY($2::bigint[]))"};

const Statement kInsertAlias{
    "aliases.insert",
    "INSERT INTO aliases (name, device_type) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING "
    "RETURNING name"};
const Statement kGetAlias{"aliases.get",
                          "SELECT name, coalesce(device_type, '') FROM aliases WHERE name = $1"};
const Statement kListAliases{"aliases.list",
                             "SELECT name, coalesce(device_type, '') FROM aliases ORDER BY name"};
const Statement kDeleteAlias{"aliases.delete", "DELETE FROM aliases WHERE name = $1"};
const Statement kAttachAlias{
    "aliases.attach",
    "INSERT INTO aliases (name, device_type) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET device_type = $2"};
const Statement kDetachAlias{"aliases.detach",
                             "UPDATE aliases SET device_type = NULL WHERE name = $1 AND device_type = $2"};
const Statement kTagPendingJobs{
    "tags.pending_jobs",
    "SELECT count(*) FROM test_job_tags x JOIN tags t ON t.id = x.tag_id JOIN test_jobs j ON j.id = x.job_id "
    "WHERE t.name = $1 AND j.state <> 5"};
const Statement kUnlinkTagJobs{"tags.unlink_jobs",
                               "DELETE FROM test_job_tags x USING tags t WHERE t.id = x.tag_id AND t.name = $1"};
const Statement kDeleteTag{"tags.delete", "DELETE FROM tags WHERE name = $1"};

const Statement kInsertTag{
    "tags.insert",
    "INSERT INTO tags (name, description) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING "
    "RETURNING id"};
const Statement kGetTag{"tags.get", "SELECT id, name, description FROM tags WHERE name = $1"};
const Statement kListTags{"tags.list", "SELECT id, name, description FROM tags ORDER BY name"};

DeviceType to_device_type(const pqxx::row& r) {
    DeviceType dt;
    dt.name = r[0].as<std::string>();
    dt.description = optional_text(r[1]);
    dt.health_frequency = r[2].as<int>();
    dt.health_denominator = static_cast<proto::HealthDenominator>(r[3].as<int>());
    dt.disable_health_check = r[4].as<bool>();
    dt.display = r[5].as<bool>();
    dt.aliases = text_array(r[6]);
    dt.device_count = r[7].as<long>();
    if (!r[8].is_null()) dt.architecture = r[8].as<std::string>();
    if (!r[9].is_null()) dt.processor = r[9].as<std::string>();
    dt.cpu_model = r[10].as<std::string>();
    if (!r[11].is_null()) dt.bits = r[11].as<int>();
    if (!r[12].is_null()) dt.core_count = r[12].as<int>();
    dt.cores = text_array(r[13]);
    return dt;
}

Tag to_tag(const pqxx::row& r) {
    return Tag{r[0].as<std::int64_t>(), r[1].as<std::string>(), optional_text(r[2])};
}

std::optional<int> to_db(const std::optional<proto::HealthDenominator>& d) {
    if (!d) return std::nullopt;
    return static_cast<int>(*d);
}

Result<void> check_frequency(std::optional<int> f) {
    if (f && *f < 0) {
        return make_error(errc::kInvalidArgument,
                          "invalid health frequency " + std::to_string(*f) + ": must be >= 0");
    }
    return {};
}

}  // namespace

Result<DeviceType> DeviceTypeRepository::create(const NewDeviceType& dt) {
    if (auto ok = check_name("device-type name", dt.name, 50); !ok) return ok.error();
    if (auto ok = check_frequency(dt.health_frequency); !ok) return ok.error();
    auto r = tx_.exec(kInsertDeviceType, dt.name, dt.description, dt.health_frequency,
                      static_cast<int>(dt.health_denominator), dt.disable_health_check, dt.display);
    if (r.empty()) return already_exists("device-type", dt.name);
    return get(dt.name);
}

Result<void> DeviceTypeRepository::remove(const std::string& name) {
    if (!tx_.exec01(kGetDeviceType, name)) return not_found("device-type", name);
    if (tx_.exec1(kCountTypeUse, name)[0].as<long>() > 0) {
        return make_error(errc::kConflict, "device-type '" + name + "' still has devices or jobs");
    }
    tx_.exec(kDeleteDeviceType, name);
    return {};
}

Result<DeviceType> DeviceTypeRepository::get(const std::string& name) {
    auto row = tx_.exec01(kGetDeviceType, name);
    if (!row) return not_found("device-type", name);
    return to_device_type(*row);
}

std::vector<DeviceType> DeviceTypeRepository::list() {
    std::vector<DeviceType> out;
    for (const auto& row : tx_.exec(kListDeviceTypes)) out.push_back(to_device_type(row));
    return out;
}

Result<DeviceType> DeviceTypeRepository::update(const std::string& name,
                                                const DeviceTypeUpdate& u) {
    if (auto ok = check_frequency(u.health_frequency); !ok) return ok.error();
    auto r = tx_.exec(kUpdateDeviceType, name, u.description, u.health_frequency,
                      to_db(u.health_denominator), u.disable_health_check, u.display);
    if (r.empty()) return not_found("device-type", name);
    return get(name);
}

std::optional<std::string> DeviceTypeRepository::resolve(const std::string& name_or_alias) {
    const auto r = tx_.exec1(kResolveType, name_or_alias);
    if (r[0].is_null()) return std::nullopt;
    return r[0].as<std::string>();
}

bool DeviceTypeRepository::visible_to(const std::string& name, const std::optional<Principal>& viewer) {
    if (viewer && viewer->is_superuser) return true;
    return tx_.exec1(kTypeVisible, name, int_array_literal(viewer ? viewer->group_ids : std::vector<std::int64_t>{}))[0]
        .as<bool>();
}

bool DeviceTypeRepository::can_submit(const std::string& name, const std::optional<Principal>& user) {
    if (!user) return false;
    if (user->is_superuser) return true;
    return tx_.exec1(kTypeSubmittable, name, int_array_literal(user->group_ids))[0].as<bool>();
}

Result<Alias> AliasRepository::create(const std::string& name, const std::string& device_type) {
    if (name.empty() || name.size() > 200) {
        return make_error(errc::kInvalidArgument,
                          "invalid alias '" + name + "': 1 to 200 characters");
    }
    if (auto dt = DeviceTypeRepository(tx_).get(device_type); !dt) return dt.error();
    if (tx_.exec(kInsertAlias, name, device_type).empty()) return already_exists("alias", name);
    return Alias{name, device_type};
}

Result<Alias> AliasRepository::get(const std::string& name) {
    auto row = tx_.exec01(kGetAlias, name);
    if (!row) return not_found("alias", name);
    return Alias{(*row)[0].as<std::string>(), (*row)[1].as<std::string>()};
}

std::vector<Alias> AliasRepository::list() {
    std::vector<Alias> out;
    for (const auto& row : tx_.exec(kListAliases)) {
        out.push_back({row[0].as<std::string>(), row[1].as<std::string>()});
    }
    return out;
}

Result<void> AliasRepository::remove(const std::string& name) {
    if (tx_.exec(kDeleteAlias, name).affected_rows() == 0) return not_found("alias", name);
    return {};
}

Result<Alias> AliasRepository::attach(const std::string& name, const std::string& device_type) {
    if (name.empty() || name.size() > 200) {
        return make_error(errc::kInvalidArgument, "invalid alias '" + name + "': 1 to 200 characters");
    }
    tx_.exec(kAttachAlias, name, device_type);
    return Alias{name, device_type};
}

Result<void> AliasRepository::detach(const std::string& name, const std::string& device_type) {
    if (tx_.exec(kDetachAlias, name, device_type).affected_rows() == 0) return not_found("alias", name);
    return {};
}

Result<void> TagRepository::remove(const std::string& name) {
    // Finished jobs forget the tag (as LAVA's many-to-many delete does); a
    // job still waiting for or running on a tagged device keeps it alive.
    const auto pending = tx_.exec1(kTagPendingJobs, name)[0].as<long>();
    if (pending > 0) {
        return make_error(errc::kConflict,
                          "tag '" + name + "' is required by " + std::to_string(pending) + " unfinished job(s)");
    }
    tx_.exec(kUnlinkTagJobs, name);
    if (tx_.exec(kDeleteTag, name).affected_rows() == 0) return not_found("tag", name);
    return {};
}

Result<Tag> TagRepository::create(const std::string& name, const std::optional<std::string>& description) {
    if (auto ok = check_name("tag name", name, 50); !ok) return ok.error();
    auto r = tx_.exec(kInsertTag, name, description);
    if (r.empty()) return already_exists("tag", name);
    return Tag{r[0][0].as<std::int64_t>(), name, description};
}

Result<Tag> TagRepository::get(const std::string& name) {
    auto row = tx_.exec01(kGetTag, name);
    if (!row) return not_found("tag", name);
    return to_tag(*row);
}

Result<Tag> TagRepository::get_or_create(const std::string& name) {
    auto created = create(name, std::nullopt);
    if (created || created.error().code != errc::kAlreadyExists) return created;
    return get(name);
}

Result<std::vector<std::int64_t>> TagRepository::ids(const std::vector<std::string>& names) {
    std::vector<std::int64_t> out;
    for (const auto& name : names) {
        auto row = tx_.exec01(kGetTag, name);
        if (!row) {
            return make_error(errc::kNotFound, "Device tag '" + name + "' does not exist in the database.");
        }
        out.push_back((*row)[0].as<std::int64_t>());
    }
    return out;
}

std::vector<Tag> TagRepository::list() {
    std::vector<Tag> out;
    for (const auto& row : tx_.exec(kListTags)) out.push_back(to_tag(row));
    return out;
}

}  // namespace lava::server::store
