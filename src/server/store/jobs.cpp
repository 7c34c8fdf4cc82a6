#include "server/store/jobs.hpp"

#include "common/base/text.hpp"
#include "common/crypto/password.hpp"
#include "server/store/sql.hpp"

#include <algorithm>
#include <map>
#include <regex>

namespace lava::server::store {
namespace {

using common::db::Statement;

#define JOB_COLUMNS                                                                              \
    "j.id, j.sub_id, j.is_public, j.target_group, j.submitter_id, u.username, j.description, "   \
    "j.health_check, j.requested_device_type, j.actual_device, d.worker_host, "                   \
    LAVA_SQL_ISO("j.submit_time") ", " LAVA_SQL_ISO("j.start_time") ", " LAVA_SQL_ISO("j.end_time") \
    ", j.state, j.health, j.priority, jd.definition, jd.original_definition, "                     \
    "jd.multinode_definition, j.queue_timeout, j.failure_comment, j.token, j.metadata::text, "       \
    "ARRAY(SELECT g.group_id::text FROM test_job_viewing_groups g WHERE g.job_id = j.id ORDER BY 1), " \
    "ARRAY(SELECT t.tag_id::text FROM test_job_tags t WHERE t.job_id = j.id ORDER BY 1), "           \
    "ARRAY(SELECT f.failure_tag_id::text FROM test_job_failure_tags f WHERE f.job_id = j.id ORDER BY 1), " \
    "CASE WHEN j.state = 0 THEN coalesce(nullif(j.waiting_reason, ''), (SELECT q.waiting_reason FROM "      \
    "device_type_queues q WHERE q.device_type = j.requested_device_type), '') ELSE '' END"
// Listings count over LIST_FROM (narrow rows); pages and details add the definitions.
#define LIST_FROM                                                \
    " FROM test_jobs j JOIN users u ON u.id = j.submitter_id "   \
    "LEFT JOIN devices d ON d.hostname = j.actual_device "
#define JOB_FROM LIST_FROM "JOIN test_job_definitions jd ON jd.job_id = j.id "

const Statement kInsert{
    "jobs.insert",
    "WITH job AS (INSERT INTO test_jobs (submitter_id, description, health_check, requested_device_type, "
    "priority, is_public, target_group, queue_timeout, token, metadata) VALUES ($1, $2, $3, $4, $5, $6, $10, "
    "$11, $12, $13::jsonb) RETURNING id, submit_time), "
    "def AS (INSERT INTO test_job_definitions (job_id, definition, original_definition, multinode_definition) "
    "SELECT id, $7, $8, $9 FROM job) "
    "SELECT id, " LAVA_SQL_ISO("submit_time") " FROM job"};
const Statement kAddTag{"jobs.add_tag", "INSERT INTO test_job_tags (job_id, tag_id) VALUES ($1, $2)"};
const Statement kAddGroup{"jobs.add_group",
                          "INSERT INTO test_job_viewing_groups (job_id, group_id) VALUES ($1, $2)"};
const Statement kIdBySubId{"jobs.id_by_sub_id", "SELECT id FROM test_jobs WHERE sub_id = $1"};
const Statement kSetSubId{"jobs.set_sub_id", "UPDATE test_jobs SET sub_id = $2 WHERE id = $1"};
const Statement kGet{"jobs.get", "SELECT " JOB_COLUMNS JOB_FROM "WHERE j.id = $1"};
const Statement kGroup{"jobs.group",
                       "SELECT " JOB_COLUMNS JOB_FROM "WHERE j.target_group = $1 ORDER BY j.id"};
// LAVA's DeviceType.can_view / Device.can_view, inverted: what a viewer in
// the groups GROUPS (a bigint[]) may not see. A group permission implies the
// lower ones.
#define HIDDEN_TYPES(GROUPS)                                                                                    \
    "SELECT dt.name FROM device_types dt WHERE EXISTS (SELECT 1 FROM group_device_type_permissions p "         \
    "WHERE p.device_type = dt.name AND p.permission = 'view_devicetype') AND NOT EXISTS (SELECT 1 FROM "         \
    "group_device_type_permissions p WHERE p.device_type = dt.name AND p.permission IN ('view_devicetype', "    \
    "'submit_to_devicetype', 'change_devicetype') AND p.group_id = ANY(" GROUPS "))"
#define HIDDEN_DEVICES(GROUPS)                                                                                   \
    "SELECT d.hostname FROM devices d WHERE NOT EXISTS (SELECT 1 FROM group_device_permissions p "              \
    "WHERE p.device = d.hostname AND p.permission IN ('view_device', 'submit_to_device', 'change_device') "     \
    "AND p.group_id = ANY(" GROUPS ")) AND (EXISTS (SELECT 1 FROM group_device_permissions p "                  \
    "WHERE p.device = d.hostname AND p.permission = 'view_device') OR (EXISTS (SELECT 1 FROM "                   \
    "group_device_type_permissions p WHERE p.device_type = d.device_type AND p.permission = 'view_devicetype') " \
    "AND NOT EXISTS (SELECT 1 FROM group_device_type_permissions p WHERE p.device_type = d.device_type AND "      \
    "p.permission IN ('view_devicetype', 'submit_to_devicetype', 'change_devicetype') "                         \
    "AND p.group_id = ANY(" GROUPS "))))"
const Statement kHiddenTypes{"jobs.hidden_types", HIDDEN_TYPES("$1::bigint[]")};
const Statement kHiddenDevices{"jobs.hidden_devices", HIDDEN_DEVICES("$1::bigint[]")};
// job_visible_sql() for an anonymous viewer, in one statement.
const Statement kPublic{
    "jobs.public",
    "SELECT j.is_public AND NOT j.has_viewing_groups AND CASE WHEN j.actual_device IS NULL THEN "
    "(j.requested_device_type IS NULL OR j.requested_device_type NOT IN (" HIDDEN_TYPES("'{}'::bigint[]") ")) "
    "ELSE j.actual_device NOT IN (" HIDDEN_DEVICES("'{}'::bigint[]") ") END FROM test_jobs j WHERE j.id = $1"};
const Statement kLockLog{"jobs.lock_log",
                         "SELECT token, " LAVA_SQL_ISO("submit_time") ", log_lines, log_bytes FROM test_jobs "
                         "WHERE id = $1 FOR UPDATE"};
const Statement kSetLogExtent{"jobs.set_log_extent",
                              "UPDATE test_jobs SET log_lines = $2, log_bytes = $3 WHERE id = $1"};
const Statement kLogExtent{"jobs.log_extent", "SELECT log_lines, log_bytes FROM test_jobs WHERE id = $1"};
const Statement kAppendFailureComment{
    "jobs.append_failure_comment",
    "UPDATE test_jobs SET failure_comment = coalesce(failure_comment, '') || $2 WHERE id = $1"};
const Statement kSetFailureComment{"jobs.set_failure_comment",
                                   "UPDATE test_jobs SET failure_comment = $2 WHERE id = $1"};
const Statement kWorkerJobs{
    "jobs.worker_jobs",
    "SELECT j.id, j.token, j.state FROM test_jobs j JOIN devices d ON d.hostname = j.actual_device "
    "WHERE d.worker_host = $1 AND j.state IN (2, 3, 4) ORDER BY j.id"};

Job to_job(const pqxx::row& r) {
    Job j;
    j.id = r[0].as<std::int64_t>();
    j.sub_id = r[1].as<std::string>();
    j.is_public = r[2].as<bool>();
    j.target_group = optional_text(r[3]);
    j.submitter_id = r[4].as<std::int64_t>();
    j.submitter = r[5].as<std::string>();
    j.description = r[6].as<std::string>();
    j.health_check = r[7].as<bool>();
    j.requested_device_type = optional_text(r[8]);
    j.actual_device = optional_text(r[9]);
    j.worker = optional_text(r[10]);
    j.submit_time = r[11].as<std::string>();
    j.start_time = optional_text(r[12]);
    j.end_time = optional_text(r[13]);
    j.state = static_cast<proto::JobState>(r[14].as<int>());
    j.health = static_cast<proto::JobHealth>(r[15].as<int>());
    j.priority = r[16].as<int>();
    j.definition = r[17].as<std::string>();
    j.original_definition = r[18].as<std::string>();
    j.multinode_definition = r[19].as<std::string>();
    if (!r[20].is_null()) j.queue_timeout = r[20].as<std::int64_t>();
    j.failure_comment = optional_text(r[21]);
    j.token = r[22].as<std::string>();
    j.metadata = r[23].as<std::string>();
    j.viewing_groups = int_array(r[24]);
    j.tags = int_array(r[25]);
    j.failure_tags = int_array(r[26]);
    j.waiting_reason = r[27].as<std::string>();
    return j;
}

// ---- filters (REST v0.2's TestJobFilter: fields, lookups, related paths)

enum class Type { kInt, kText, kTime, kBool, kState, kHealth };

struct Field {
    std::string sql;                    // an expression on j (and the joined u, d)
    Type type;
    std::vector<std::string> lookups;   // besides "exact"
    std::string m2m;                    // for many-to-many paths: the EXISTS table join
};

const std::vector<std::string> kText = {"iexact", "in", "contains", "icontains", "startswith", "endswith"};

const std::map<std::string, Field>& job_fields() {
    static const std::map<std::string, Field> fields = {
        {"id", {"j.id", Type::kInt, {"lt", "gt", "in"}, {}}},
        {"submit_time", {"j.submit_time", Type::kTime, {"lt", "gt", "isnull"}, {}}},
        {"start_time", {"j.start_time", Type::kTime, {"lt", "gt", "isnull"}, {}}},
        {"end_time", {"j.end_time", Type::kTime, {"lt", "gt", "isnull"}, {}}},
        {"health_check", {"j.health_check", Type::kBool, {}, {}}},
        {"target_group", {"j.target_group", Type::kText, {"iexact", "in", "contains", "icontains", "startswith"}, {}}},
        {"state", {"j.state", Type::kState, {"iexact", "in"}, {}}},
        {"health", {"j.health", Type::kHealth, {"iexact", "in"}, {}}},
        {"priority", {"j.priority", Type::kInt, {"in", "lt", "lte", "gt", "gte"}, {}}},
        {"description", {"j.description", Type::kText, kText, {}}},
        {"definition", {"x.definition", Type::kText, kText, "test_job_definitions x WHERE x.job_id = j.id"}},
        {"original_definition",
         {"x.original_definition", Type::kText, kText, "test_job_definitions x WHERE x.job_id = j.id"}},
        {"multinode_definition",
         {"x.multinode_definition", Type::kText, kText, "test_job_definitions x WHERE x.job_id = j.id"}},
        {"failure_comment", {"j.failure_comment", Type::kText, kText, {}}},
        {"sub_id", {"j.sub_id", Type::kText, kText, {}}},
        // Related filters: the key of the related object, and its fields.
        {"requested_device_type", {"j.requested_device_type", Type::kText, kText, {}}},
        {"requested_device_type__name", {"j.requested_device_type", Type::kText, kText, {}}},
        {"actual_device", {"j.actual_device", Type::kText, kText, {}}},
        {"actual_device__hostname", {"j.actual_device", Type::kText, kText, {}}},
        {"actual_device__worker_host", {"d.worker_host", Type::kText, kText, {}}},
        {"actual_device__worker_host__hostname", {"d.worker_host", Type::kText, kText, {}}},
        {"actual_device__device_type", {"d.device_type", Type::kText, kText, {}}},
        {"actual_device__device_type__name", {"d.device_type", Type::kText, kText, {}}},
        {"submitter", {"j.submitter_id", Type::kInt, {"in"}, {}}},
        {"submitter__username", {"u.username", Type::kText, kText, {}}},
        {"submitter__email", {"u.email", Type::kText, kText, {}}},
        {"tags", {"x.tag_id", Type::kInt, {"in"}, "test_job_tags x WHERE x.job_id = j.id"}},
        {"tags__name", {"t.name", Type::kText, kText,
                        "test_job_tags x JOIN tags t ON t.id = x.tag_id WHERE x.job_id = j.id"}},
        {"viewing_groups", {"x.group_id", Type::kInt, {"in"}, "test_job_viewing_groups x WHERE x.job_id = j.id"}},
        {"viewing_groups__name", {"g.name", Type::kText, kText,
                                  "test_job_viewing_groups x JOIN groups g ON g.id = x.group_id WHERE x.job_id = j.id"}},
        {"failure_tags__name", {"f.name", Type::kText, kText,
                                "test_job_failure_tags x JOIN job_failure_tags f ON f.id = x.failure_tag_id "
                                "WHERE x.job_id = j.id"}},
    };
    return fields;
}

bool is_integer(const std::string& s) {
    static const std::regex re(R"(^\s*[-+]?\d+\s*$)");
    return std::regex_match(s, re);
}

bool is_time(const std::string& s) {
    static const std::regex re(
        R"(^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$)");
    return std::regex_match(s, re);
}

std::optional<bool> as_bool(const std::string& s) {
    if (s == "true" || s == "True" || s == "1") return true;
    if (s == "false" || s == "False" || s == "0") return false;
    return std::nullopt;
}

Error invalid(const std::string& param, const std::string& message) {
    // The message is the JSON-ish DRF body {"param": ["message"]}, kept as text.
    return make_error(errc::kInvalidArgument, param + "\n" + message);
}

template <class Enum>
Result<std::vector<int>> enum_values(const std::string& param, const std::string& value, bool many,
                                     bool case_insensitive) {
    std::vector<int> out;
    for (const auto& part : many ? split(value, ',') : std::vector<std::string>{value}) {
        std::optional<int> found;
        const auto& names = proto::EnumNames<Enum>::names;
        for (std::size_t i = 0; i < names.size(); ++i) {
            const std::string name(names[i]);
            bool same = name == part;
            if (!same && case_insensitive && name.size() == part.size()) {
                same = std::equal(name.begin(), name.end(), part.begin(), [](char a, char b) {
                    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
                });
            }
            if (same) found = static_cast<int>(i);
        }
        if (!found) {
            std::string choices;
            for (auto n : names) choices += (choices.empty() ? "'" : ", '") + std::string(n) + "'";
            return invalid(param, "Select a valid choice. " + part +
                                      " is not one of the available choices: (" + choices + ")");
        }
        out.push_back(*found);
    }
    return out;
}

// One filter as an SQL condition with its parameters appended to `params`.
Result<std::optional<std::string>> condition(const std::string& param, const std::string& value,
                                             std::vector<std::string>& params) {
    const auto& fields = job_fields();
    std::string name = param;
    std::string lookup = "exact";
    auto it = fields.find(name);
    if (it == fields.end()) {
        const auto sep = param.rfind("__");
        if (sep == std::string::npos) return std::optional<std::string>{};
        name = param.substr(0, sep);
        lookup = param.substr(sep + 2);
        it = fields.find(name);
        if (it == fields.end()) return std::optional<std::string>{};  // unknown parameters are ignored
        if (lookup != "exact" &&
            std::find(it->second.lookups.begin(), it->second.lookups.end(), lookup) == it->second.lookups.end()) {
            return std::optional<std::string>{};
        }
    }
    const Field& f = it->second;
    auto p = [&](std::string v) {
        params.push_back(std::move(v));
        return "$" + std::to_string(params.size());
    };
    std::string sql;
    if (lookup == "isnull") {
        auto b = as_bool(value);
        if (!b) return invalid(param, "Enter a valid boolean.");
        sql = f.sql + (*b ? " IS NULL" : " IS NOT NULL");
    } else if (f.type == Type::kState || f.type == Type::kHealth) {
        auto values = f.type == Type::kState
                          ? enum_values<proto::JobState>(param, value, lookup == "in", lookup == "iexact")
                          : enum_values<proto::JobHealth>(param, value, lookup == "in", lookup == "iexact");
        if (!values) return values.error();
        std::string list;
        for (int v : *values) list += (list.empty() ? "" : ",") + std::to_string(v);
        sql = f.sql + " = ANY(string_to_array(" + p(list) + ", ',')::smallint[])";
    } else if (f.type == Type::kInt) {
        const auto parts = lookup == "in" ? split(value, ',') : std::vector<std::string>{value};
        for (const auto& part : parts) {
            if (!is_integer(part)) return invalid(param, "Enter a number.");
        }
        static const std::map<std::string, std::string> ops = {
            {"exact", "="}, {"lt", "<"}, {"lte", "<="}, {"gt", ">"}, {"gte", ">="}};
        if (lookup == "in") {
            sql = f.sql + " = ANY(string_to_array(" + p(value) + ", ',')::bigint[])";
        } else {
            sql = f.sql + " " + ops.at(lookup) + " " + p(value) + "::bigint";
        }
    } else if (f.type == Type::kTime) {
        if (!is_time(value)) return invalid(param, "Enter a valid date/time.");
        static const std::map<std::string, std::string> ops = {{"exact", "="}, {"lt", "<"}, {"gt", ">"}};
        sql = f.sql + " " + ops.at(lookup) + " " + p(value) + "::timestamptz";
    } else if (f.type == Type::kBool) {
        auto b = as_bool(value);
        if (!b) return invalid(param, "Enter a valid boolean.");
        sql = f.sql + " = " + p(*b ? "true" : "false") + "::boolean";
    } else {
        const std::string e = f.sql;
        const std::string v = p(value);  // one placeholder, named before it is used
        if (lookup == "exact") sql = e + " = " + v;
        else if (lookup == "iexact") sql = "lower(" + e + ") = lower(" + v + ")";
        else if (lookup == "in") sql = e + " = ANY(string_to_array(" + v + ", ','))";
        else if (lookup == "contains") sql = "strpos(" + e + ", " + v + ") > 0";
        else if (lookup == "icontains") sql = "strpos(lower(" + e + "), lower(" + v + ")) > 0";
        else if (lookup == "startswith") sql = "left(" + e + ", length(" + v + ")) = " + v;
        else if (lookup == "endswith") sql = "right(" + e + ", length(" + v + ")) = " + v;
    }
    if (!f.m2m.empty()) sql = "EXISTS (SELECT 1 FROM " + f.m2m + " AND " + sql + ")";
    return std::optional<std::string>(sql);
}

}  // namespace

std::string job_visible_sql(common::db::Tx& tx, const Viewer& viewer, std::vector<std::string>& params) {
    if (viewer && viewer->is_superuser) return "TRUE";
    // The device types and devices hidden from this viewer (few rows, one
    // query each), so the per-job test is plain column comparisons.
    const std::string groups = int_array_literal(viewer ? viewer->group_ids : std::vector<std::int64_t>{});
    auto text_array_param = [](const pqxx::result& r) {
        std::vector<std::string> names;
        for (const auto& row : r) names.push_back(row[0].as<std::string>());
        return text_array_literal(names);
    };
    const auto types = tx.exec(kHiddenTypes, groups);
    const auto devices = tx.exec(kHiddenDevices, groups);
    std::string sql = "((j.is_public AND NOT j.has_viewing_groups";
    if (!types.empty() || !devices.empty()) {
        params.push_back(text_array_param(types));
        const std::string hidden_types = "$" + std::to_string(params.size()) + "::text[]";
        params.push_back(text_array_param(devices));
        const std::string hidden_devices = "$" + std::to_string(params.size()) + "::text[]";
        sql += " AND CASE WHEN j.actual_device IS NULL THEN (j.requested_device_type IS NULL OR "
               "j.requested_device_type <> ALL(" + hidden_types + ")) ELSE j.actual_device <> ALL(" +
               hidden_devices + ") END";
    }
    sql += ")";
    if (viewer) {
        params.push_back(std::to_string(viewer->id));
        const std::string user = "$" + std::to_string(params.size()) + "::bigint";
        params.push_back(groups);
        const std::string mine = "$" + std::to_string(params.size()) + "::bigint[]";
        // Private jobs are the submitter's; with viewing groups, the viewer
        // must be in every one of them.
        sql += " OR j.submitter_id = " + user + " OR (j.has_viewing_groups AND NOT EXISTS (SELECT 1 FROM "
               "test_job_viewing_groups vg WHERE vg.job_id = j.id AND NOT (vg.group_id = ANY(" + mine + "))))";
    }
    return sql + ")";
}

Job JobRepository::insert(const NewJob& n) {
    Job j;
    j.token = common::crypto::random_string(32);
    const auto r = tx_.exec1(kInsert, n.submitter_id, n.description, n.health_check, n.requested_device_type,
                             n.priority, n.is_public, n.definition, n.original_definition,
                             n.multinode_definition, n.target_group, n.queue_timeout, j.token, n.metadata);
    j.id = r[0].as<std::int64_t>();
    j.submit_time = r[1].as<std::string>();
    for (auto t : n.tags) tx_.exec(kAddTag, j.id, t);
    for (auto g : n.viewing_groups) tx_.exec(kAddGroup, j.id, g);
    j.is_public = n.is_public;
    j.target_group = n.target_group;
    j.submitter_id = n.submitter_id;
    j.submitter = n.submitter;
    j.description = n.description;
    j.health_check = n.health_check;
    j.requested_device_type = n.requested_device_type;
    j.priority = n.priority;
    j.definition = n.definition;
    j.original_definition = n.original_definition;
    j.multinode_definition = n.multinode_definition;
    j.queue_timeout = n.queue_timeout;
    j.metadata = n.metadata;
    j.viewing_groups = n.viewing_groups;
    j.tags = n.tags;
    return j;
}

void JobRepository::set_sub_id(std::int64_t id, const std::string& sub_id) { tx_.exec(kSetSubId, id, sub_id); }

std::optional<std::int64_t> JobRepository::id_of(const std::string& display_id) {
    if (display_id.find('.') != std::string::npos) {
        auto row = tx_.exec01(kIdBySubId, display_id);
        if (!row) return std::nullopt;
        return (*row)[0].as<std::int64_t>();
    }
    return parse_id(display_id);
}

std::optional<Job> JobRepository::get(std::int64_t id) {
    auto row = tx_.exec01(kGet, id);
    if (!row) return std::nullopt;
    return to_job(*row);
}

std::optional<Job> JobRepository::get_visible(std::int64_t id, const Viewer& viewer) {
    std::vector<std::string> params{std::to_string(id)};
    const std::string visible = job_visible_sql(tx_, viewer, params);
    const auto r = tx_.exec_dynamic("SELECT " JOB_COLUMNS JOB_FROM "WHERE j.id = $1::bigint AND " + visible, params);
    if (r.empty()) return std::nullopt;
    return to_job(r[0]);
}

std::optional<bool> JobRepository::is_public(std::int64_t id) {
    const auto row = tx_.exec01(kPublic, id);
    if (!row) return std::nullopt;
    return (*row)[0].as<bool>();
}

std::vector<Job> JobRepository::group(const std::string& target_group) {
    std::vector<Job> out;
    for (const auto& row : tx_.exec(kGroup, target_group)) out.push_back(to_job(row));
    return out;
}

Result<JobPage> JobRepository::list(const JobQuery& q, const Viewer& viewer) {
    std::vector<std::string> params;
    std::string where = job_visible_sql(tx_, viewer, params);
    for (const auto& [param, value] : q.filters) {
        auto c = condition(param, value, params);
        if (!c) return c.error();
        if (*c) where += " AND " + **c;
    }
    static const std::map<std::string, std::string> orderings = {
        {"id", "j.id"}, {"submit_time", "j.submit_time"}, {"start_time", "j.start_time"},
        {"end_time", "j.end_time"}, {"priority", "j.priority"}, {"state", "j.state"}, {"health", "j.health"}};
    std::string order;
    for (const auto& part : split(q.ordering, ',')) {
        const bool desc = !part.empty() && part[0] == '-';
        auto it = orderings.find(desc ? part.substr(1) : part);
        if (it == orderings.end()) continue;  // DRF ignores invalid ordering fields
        order += (order.empty() ? "" : ", ") + it->second + (desc ? " DESC" : " ASC");
    }
    if (order.empty()) order = "j.id DESC";
    JobPage page;
    // The count joins only what the conditions use (users: u., devices: d.).
    auto uses = [&](const char* alias) {
        for (const char* before : {" ", "(", ","}) {
            if (where.find(std::string(before) + alias) != std::string::npos) return true;
        }
        return false;
    };
    std::string count_from = " FROM test_jobs j ";
    if (uses("u.")) count_from += "JOIN users u ON u.id = j.submitter_id ";
    if (uses("d.")) count_from += "LEFT JOIN devices d ON d.hostname = j.actual_device ";
    if (q.count) page.count = tx_.exec_dynamic("SELECT count(*)" + count_from + "WHERE " + where, params)[0][0].as<long>();
    auto paged = params;
    paged.push_back(std::to_string(q.limit));
    paged.push_back(std::to_string(q.offset));
    const std::string sql = "SELECT " JOB_COLUMNS JOB_FROM "WHERE " + where + " ORDER BY " + order + ", j.id DESC LIMIT $" +
                            std::to_string(paged.size() - 1) + "::bigint OFFSET $" +
                            std::to_string(paged.size()) + "::bigint";
    for (const auto& row : tx_.exec_dynamic(sql, paged)) {
        page.jobs.push_back(to_job(row));
    }
    return page;
}

std::optional<LogState> JobRepository::lock_log(std::int64_t id) {
    auto row = tx_.exec01(kLockLog, id);
    if (!row) return std::nullopt;
    const auto& r = *row;
    return LogState{r[0].as<std::string>(), r[1].as<std::string>(),
                    LogExtentRow{r[2].as<std::uint64_t>(), r[3].as<std::uint64_t>()}};
}

void JobRepository::set_log_extent(std::int64_t id, std::uint64_t lines, std::uint64_t bytes) {
    tx_.exec(kSetLogExtent, id, static_cast<std::int64_t>(lines), static_cast<std::int64_t>(bytes));
}

LogExtentRow JobRepository::log_extent(std::int64_t id) {
    auto row = tx_.exec01(kLogExtent, id);
    if (!row) return {};
    return LogExtentRow{(*row)[0].as<std::uint64_t>(), (*row)[1].as<std::uint64_t>()};
}

void JobRepository::append_failure_comment(std::int64_t id, const std::string& note) {
    tx_.exec(kAppendFailureComment, id, note.substr(0, 256));
}

void JobRepository::set_failure_comment(std::int64_t id, const std::string& comment) {
    tx_.exec(kSetFailureComment, id, comment);
}

std::vector<JobRepository::WorkerJob> JobRepository::worker_jobs(const std::string& worker) {
    std::vector<WorkerJob> out;
    for (const auto& r : tx_.exec(kWorkerJobs, worker)) {
        out.push_back(WorkerJob{r[0].as<std::int64_t>(), r[1].as<std::string>(),
                                static_cast<proto::JobState>(r[2].as<int>())});
    }
    return out;
}

}  // namespace lava::server::store
