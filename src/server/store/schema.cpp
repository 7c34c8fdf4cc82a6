#include "server/store/schema.hpp"

namespace lava::server::store {

int schema_version() {
    const auto all = migrations();
    return all.empty() ? 0 : all.back().version;
}

Result<int> require_schema(pqxx::connection& conn, std::string_view program) {
    return common::db::check_schema(conn, migrations(), program);
}

}  // namespace lava::server::store
