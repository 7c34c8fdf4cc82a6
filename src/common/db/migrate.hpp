#pragma once
// Forward-only, numbered schema migrations. The runner records each applied
// migration (version, name, SHA-256 of its SQL) in lava_schema_migrations and
// applies pending ones one transaction each, under a PostgreSQL advisory lock
// so concurrent runs serialise. Every daemon calls check_schema() at start-up
// and refuses to run on a schema it does not know. Blocking; main thread.

#include "common/base/error.hpp"

#include <pqxx/pqxx>

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lava::common::db {

// Error codes of this module.
enum class migrate_errc {
    kNotMigrated = 1,   // no lava schema in this database
    kSchemaOlder,       // pending migrations: run `lava-server manage migrate`
    kSchemaNewer,       // the database was migrated by a newer lava-cpp
    kMigrationChanged,  // an applied migration's SQL differs from ours
    kMigrationFailed,   // a migration's SQL failed; nothing of it was kept
};
const boost::system::error_category& migrate_category() noexcept;
boost::system::error_code make_error_code(migrate_errc e) noexcept;

struct Migration {
    int version;            // 1, 2, ... with no gaps
    std::string_view name;  // "initial"
    std::string_view sql;
};

struct MigrateOutcome {
    int from = 0;
    int to = 0;
    std::vector<int> applied;
};

// The highest applied version; 0 when the database was never migrated.
int schema_version(pqxx::connection& conn);

// Applies every pending migration. A no-op when up to date.
Result<MigrateOutcome> migrate(pqxx::connection& conn, std::span<const Migration> migrations);

// Succeeds with the version when the database is exactly at the newest
// migration this program knows; otherwise a one-line error for `program`.
Result<int> check_schema(pqxx::connection& conn, std::span<const Migration> migrations,
                         std::string_view program);

}  // namespace lava::common::db

template <>
struct boost::system::is_error_code_enum<lava::common::db::migrate_errc> : std::true_type {};
