#pragma once
// SQL fragments shared by the repositories' statements.

// A timestamptz column as ISO 8601 UTC text with microseconds, no zone
// suffix, as LAVA 2023.01 prints naive UTC datetimes.
#define LAVA_SQL_ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"

// LAVA's permission rules as SQL conditions, one text for every statement
// that applies them. A group permission implies the lower ones (change >
// submit > view); an object no group restricts is open to all.
// Array parameters are cast from text: the planner cannot fold such an
// expression, so a prepared statement's custom plans cost what its generic
// plan costs and PostgreSQL keeps the generic one (no planning per call).
//
// DeviceType.can_view for the groups in GROUPS (a bigint[] parameter).
#define LAVA_SQL_TYPE_VISIBLE(TYPE, GROUPS)                                                              \
    "(NOT EXISTS (SELECT 1 FROM group_device_type_permissions p WHERE p.device_type = " TYPE            \
    " AND p.permission = 'view_devicetype') OR EXISTS (SELECT 1 FROM group_device_type_permissions p "  \
    "WHERE p.device_type = " TYPE " AND p.permission IN ('view_devicetype', 'submit_to_devicetype', "   \
    "'change_devicetype') AND p.group_id = ANY(" GROUPS "::text::bigint[])))"
// Device.can_submit for device row `d` of type TYPE, not retired, for a
// user who is not a superuser (superusers may submit to every device).
#define LAVA_SQL_DEVICE_SUBMITTABLE(TYPE, GROUPS)                                                         \
    "(d.device_type = " TYPE " AND d.health <> 5 AND ("                                                  \
    "  EXISTS (SELECT 1 FROM group_device_permissions p WHERE p.device = d.hostname "                    \
    "     AND p.permission IN ('submit_to_device', 'change_device') AND p.group_id = ANY(" GROUPS         \
    "::bigint[])) "                                                                                      \
    "  OR (NOT EXISTS (SELECT 1 FROM group_device_permissions p WHERE p.device = d.hostname "             \
    "         AND p.permission = 'submit_to_device') "                                                   \
    "      AND (NOT EXISTS (SELECT 1 FROM group_device_type_permissions p WHERE p.device_type = "         \
    "d.device_type AND p.permission = 'submit_to_devicetype') "                                          \
    "           OR EXISTS (SELECT 1 FROM group_device_type_permissions p WHERE p.device_type = "          \
    "d.device_type AND p.permission IN ('submit_to_devicetype', 'change_devicetype') "                   \
    "              AND p.group_id = ANY(" GROUPS "::text::bigint[]))))))"
// Device row `d` carries every tag of TAGS (a bigint[] parameter).
#define LAVA_SQL_DEVICE_HAS_TAGS(TAGS)                                                                     \
    "NOT EXISTS (SELECT 1 FROM unnest(" TAGS "::text::bigint[]) want(tag) WHERE NOT EXISTS "                    \
    "(SELECT 1 FROM device_tags dt WHERE dt.device = d.hostname AND dt.tag_id = want.tag))"

#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lava::server::store {

// A bigint[] parameter as PostgreSQL array text: {1,2,3}.
inline std::string int_array_literal(const std::vector<std::int64_t>& v) {
    std::string out = "{";
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + std::to_string(v[i]);
    return out + "}";
}

// A text[] parameter as PostgreSQL array text: {"a","b \"c\""}; any
// strings (quotes and backslashes escaped).
inline std::string text_array_literal(const std::vector<std::string>& v) {
    std::string out = "{";
    for (std::size_t i = 0; i < v.size(); ++i) {
        out += i ? ",\"" : "\"";
        for (char ch : v[i]) {
            if (ch == '"' || ch == '\\') out += '\\';
            out += ch;
        }
        out += '"';
    }
    return out + "}";
}

// A text[] column as strings (NULL elements are skipped).
inline std::vector<std::string> text_array(const pqxx::field& f) {
    std::vector<std::string> out;
    if (f.is_null()) return out;
    auto parser = f.as_array();
    for (auto item = parser.get_next(); item.first != pqxx::array_parser::done;
         item = parser.get_next()) {
        if (item.first == pqxx::array_parser::string_value) out.push_back(item.second);
    }
    return out;
}

// A bigint[] column (ARRAY(...)::text) as integers.
inline std::vector<std::int64_t> int_array(const pqxx::field& f) {
    std::vector<std::int64_t> out;
    for (const auto& s : text_array(f)) out.push_back(std::stoll(s));
    return out;
}

// A nullable text column.
inline std::optional<std::string> optional_text(const pqxx::field& f) {
    if (f.is_null()) return std::nullopt;
    return f.as<std::string>();
}

}  // namespace lava::server::store
