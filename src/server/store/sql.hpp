#pragma once
// SQL fragments shared by the repositories' statements.

// A timestamptz column as ISO 8601 UTC text with microseconds, no zone
// suffix, as LAVA 2023.01 prints naive UTC datetimes.
#define LAVA_SQL_ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"

#include <pqxx/pqxx>

#include <cstdint>
#include <string>
#include <vector>

namespace lava::server::store {

// A bigint[] parameter as PostgreSQL array text: {1,2,3}.
inline std::string int_array_literal(const std::vector<std::int64_t>& v) {
    std::string out = "{";
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + std::to_string(v[i]);
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

}  // namespace lava::server::store
