#pragma once
// SQL fragments shared by the repositories' statements.

// A timestamptz column as ISO 8601 UTC text with microseconds, no zone
// suffix, as LAVA 2023.01 prints naive UTC datetimes.
#define LAVA_SQL_ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"

#include <pqxx/pqxx>

#include <string>
#include <vector>

namespace lava::server::store {

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
