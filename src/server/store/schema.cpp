#include "server/store/schema.hpp"

namespace lava::server::store {

int schema_version() {
    const auto all = migrations();
    return all.empty() ? 0 : all.back().version;
}

Result<int> require_schema(pqxx::connection& conn, std::string_view program) {
    return common::db::check_schema(conn, migrations(), program);
}

std::optional<std::string> readiness_problem(common::db::Pool& pool, std::string_view program) {
    try {
        auto lease = pool.acquire(std::chrono::seconds(5));
        if (auto ok = require_schema(lease->raw(), program); !ok) return ok.error().message;
        return std::nullopt;
    } catch (const std::exception& e) {
        return common::db::first_line(e.what());
    }
}

}  // namespace lava::server::store
