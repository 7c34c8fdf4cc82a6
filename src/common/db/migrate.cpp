#include "common/db/migrate.hpp"

#include "common/base/assert.hpp"
#include "common/crypto/password.hpp"
#include "common/db/pool.hpp"

#include <fmt/format.h>

namespace lava::common::db {
namespace {

// Advisory lock key: "LAVAMIGR" as a 64-bit integer.
constexpr long long kMigrationLockKey = 0x4c4156414d494752LL;

class MigrateCategory final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "lava.migrate"; }
    std::string message(int ev) const override {
        switch (static_cast<migrate_errc>(ev)) {
            case migrate_errc::kNotMigrated: return "database not migrated";
            case migrate_errc::kSchemaOlder: return "database schema older than this program";
            case migrate_errc::kSchemaNewer: return "database schema newer than this program";
            case migrate_errc::kMigrationChanged: return "applied migration was modified";
            case migrate_errc::kMigrationFailed: return "migration failed";
        }
        return "unknown migration error";
    }
};

constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS lava_schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

bool table_exists(pqxx::transaction_base& t) {
    return t.exec_params1("SELECT to_regclass('lava_schema_migrations') IS NOT NULL")[0].as<bool>();
}

struct Applied {
    int version;
    std::string name;
    std::string checksum;
};

std::vector<Applied> applied_migrations(pqxx::transaction_base& t) {
    std::vector<Applied> out;
    if (!table_exists(t)) return out;
    for (const auto& row :
         t.exec_params("SELECT version, name, checksum FROM lava_schema_migrations ORDER BY version")) {
        out.push_back({row[0].as<int>(), row[1].as<std::string>(), row[2].as<std::string>()});
    }
    return out;
}

int newest(std::span<const Migration> migrations) {
    return migrations.empty() ? 0 : migrations.back().version;
}

void check_numbering(std::span<const Migration> migrations) {
    for (std::size_t i = 0; i < migrations.size(); ++i) {
        LAVA_ASSERT(migrations[i].version == static_cast<int>(i) + 1,
                    "migrations must be numbered 1, 2, ... without gaps");
    }
}

// Applied migrations must be ours, unchanged.
Result<int> verify_applied(const std::vector<Applied>& applied,
                           std::span<const Migration> migrations, std::string_view program) {
    const int known = newest(migrations);
    int current = 0;
    for (const auto& a : applied) {
        current = std::max(current, a.version);
        if (a.version > known) {
            return make_error(migrate_errc::kSchemaNewer,
                              fmt::format("database schema is at version {}, newer than the {} "
                                          "that {} knows; refusing to use it (upgrade {})",
                                          current, known, program, program));
        }
        const auto& m = migrations[static_cast<std::size_t>(a.version - 1)];
        if (a.checksum != crypto::sha256_hex(m.sql)) {
            return make_error(migrate_errc::kMigrationChanged,
                              fmt::format("migration {:04d} ({}) differs from the one applied to "
                                          "this database; migrations are forward-only",
                                          a.version, m.name));
        }
    }
    return current;
}

}  // namespace

const boost::system::error_category& migrate_category() noexcept {
    static const MigrateCategory category;
    return category;
}

boost::system::error_code make_error_code(migrate_errc e) noexcept {
    return {static_cast<int>(e), migrate_category()};
}

int schema_version(pqxx::connection& conn) {
    pqxx::read_transaction t(conn);
    if (!table_exists(t)) return 0;
    return t.exec_params1("SELECT coalesce(max(version), 0) FROM lava_schema_migrations")[0].as<int>();
}

Result<MigrateOutcome> migrate(pqxx::connection& conn, std::span<const Migration> migrations) {
    check_numbering(migrations);
    // A session-level lock: held across the transactions below, released at
    // the end, or by PostgreSQL if this process dies.
    pqxx::nontransaction(conn).exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
    struct Unlock {
        pqxx::connection& c;
        ~Unlock() {
            try {
                pqxx::nontransaction(c).exec_params("SELECT pg_advisory_unlock($1)",
                                                    kMigrationLockKey);
            } catch (...) {
                // The lock goes with the session if the connection is gone.
            }
        }
    } unlock{conn};

    Result<int> current = 0;
    {
        pqxx::work t(conn);
        t.exec0(kCreateTable);
        current = verify_applied(applied_migrations(t), migrations, "lava-server");
        t.commit();
    }
    if (!current) return current.error();

    MigrateOutcome outcome;
    outcome.from = *current;
    outcome.to = *current;
    for (const auto& m : migrations) {
        if (m.version <= *current) continue;
        // Each migration and its bookkeeping row commit together, or not at all.
        try {
            pqxx::work t(conn);
            t.exec(std::string(m.sql));
            t.exec_params("INSERT INTO lava_schema_migrations (version, name, checksum) "
                          "VALUES ($1, $2, $3)",
                          m.version, std::string(m.name), crypto::sha256_hex(m.sql));
            t.commit();
        } catch (const pqxx::sql_error& e) {
            return make_error(migrate_errc::kMigrationFailed,
                              fmt::format("migration {:04d} ({}) failed and was rolled back: {}",
                                          m.version, m.name, first_line(e.what())));
        }
        outcome.applied.push_back(m.version);
        outcome.to = m.version;
    }
    return outcome;
}

Result<int> check_schema(pqxx::connection& conn, std::span<const Migration> migrations,
                         std::string_view program) {
    check_numbering(migrations);
    pqxx::read_transaction t(conn);
    const auto applied = applied_migrations(t);
    if (applied.empty()) {
        return make_error(migrate_errc::kNotMigrated,
                          fmt::format("the database has no lava schema yet; run "
                                      "'lava-server manage migrate' before starting {}",
                                      program));
    }
    auto current = verify_applied(applied, migrations, program);
    if (!current) return current.error();
    if (*current < newest(migrations)) {
        return make_error(migrate_errc::kSchemaOlder,
                          fmt::format("database schema is at version {} but {} needs {}; run "
                                      "'lava-server manage migrate'",
                                      *current, program, newest(migrations)));
    }
    return *current;
}

}  // namespace lava::common::db
