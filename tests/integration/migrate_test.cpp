#include "common/db/migrate.hpp"
#include "common/db/pool.hpp"
#include "integration/pg_fixture.hpp"
#include "server/store/schema.hpp"
#include "server/store/users.hpp"

#include <thread>

namespace lava::test {
namespace {

using common::db::Migration;
using common::db::migrate_errc;

class MigrateTest : public PgTest {};

TEST_F(MigrateTest, FreshDatabaseMigratesToTheNewestVersion) {
    pqxx::connection c(conninfo());
    EXPECT_EQ(common::db::schema_version(c), 0);
    auto r = common::db::migrate(c, server::store::migrations());
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->from, 0);
    EXPECT_EQ(r->to, server::store::schema_version());
    EXPECT_EQ(r->applied.size(), server::store::migrations().size());
    EXPECT_EQ(common::db::schema_version(c), server::store::schema_version());
    EXPECT_GE(server::store::schema_version(), 1);
    // The schema is really there, with its seed data.
    EXPECT_EQ(query("SELECT count(*) FROM users WHERE username = 'lava-health'"), "1");
    EXPECT_TRUE(server::store::require_schema(c, "lava-test"));
}

// Issue 14: tokens created before 0005 are hashed by it and keep working;
// their plain secrets are gone from the database.
TEST_F(MigrateTest, ExistingTokensAreHashedAndStillWork) {
    pqxx::connection c(conninfo());
    const auto all = server::store::migrations();
    const std::span<const Migration> before(all.data(), 4);
    ASSERT_EQ(before.back().version, 4);
    ASSERT_TRUE(common::db::migrate(c, before));
    {
        pqxx::work w(c);
        w.exec0("INSERT INTO users (username, password) VALUES ('old', '')");
        w.exec0("INSERT INTO auth_tokens (user_id, secret) SELECT id, 'an-old-token-secret' FROM users "
                "WHERE username = 'old'");
        w.commit();
    }
    auto r = common::db::migrate(c, all);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(query("SELECT secret_prefix FROM auth_tokens"), "an-old-t");
    EXPECT_EQ(query("SELECT count(*) FROM information_schema.columns WHERE table_name = 'auth_tokens' "
                    "AND column_name = 'secret'"),
              "0");
    common::db::Pool pool(conninfo(), 1);
    common::db::transact(pool, [](common::db::Tx& tx) {
        const auto owner = server::store::TokenRepository(tx).owner("old", "an-old-token-secret");
        ASSERT_TRUE(owner);
        EXPECT_EQ(owner->username, "old");
        EXPECT_FALSE(server::store::TokenRepository(tx).owner("old", "an-old-token-secre"));
        EXPECT_TRUE(server::store::TokenRepository(tx).owner("an-old-token-secret"));
    });
}

TEST_F(MigrateTest, SecondRunIsANoOp) {
    migrate();
    const auto before = snapshot();
    pqxx::connection c(conninfo());
    auto r = common::db::migrate(c, server::store::migrations());
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->applied.empty());
    EXPECT_EQ(r->from, r->to);
    EXPECT_EQ(snapshot(), before);

    auto out = cli({"manage", "migrate"});
    EXPECT_EQ(out.code, 0) << out.err;
    EXPECT_EQ(out.out, "Database schema is at version " +
                           std::to_string(server::store::schema_version()) +
                           "; no migrations to apply.\n");
}

TEST_F(MigrateTest, ManageMigrateReportsWhatItApplied) {
    auto out = cli({"manage", "migrate"});
    EXPECT_EQ(out.code, 0) << out.err;
    EXPECT_NE(out.out.find("Applied migration 0001 (initial)\n"), std::string::npos) << out.out;
    EXPECT_EQ(query("SELECT max(version) FROM lava_schema_migrations"),
              std::to_string(server::store::schema_version()));
}

TEST_F(MigrateTest, RefusesADatabaseFromANewerVersion) {
    migrate();
    {
        pqxx::connection c(conninfo());
        pqxx::work w(c);
        w.exec0("INSERT INTO lava_schema_migrations (version, name, checksum) "
                "VALUES (9999, 'future', 'x')");
        w.commit();
        auto r = server::store::require_schema(c, "lava-test");
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, migrate_errc::kSchemaNewer);
        EXPECT_NE(r.error().message.find("version 9999"), std::string::npos) << r.error().message;
    }
    const auto before = snapshot();
    for (auto args : std::vector<std::vector<std::string>>{{"manage", "devices", "list"},
                                                           {"manage", "migrate"},
                                                           {"manage", "status"}}) {
        auto out = cli(args);
        EXPECT_EQ(out.code, 1);
        EXPECT_EQ(out.out, "");
        // One line, saying why.
        EXPECT_EQ(std::count(out.err.begin(), out.err.end(), '\n'), 1) << out.err;
        EXPECT_NE(out.err.find("database schema is at version 9999, newer than"),
                  std::string::npos)
            << out.err;
    }
    EXPECT_EQ(snapshot(), before);
}

TEST_F(MigrateTest, RefusesAnUnmigratedDatabase) {
    pqxx::connection c(conninfo());
    auto r = server::store::require_schema(c, "lava-test");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, migrate_errc::kNotMigrated);
    auto out = cli({"manage", "workers", "list"});
    EXPECT_EQ(out.code, 1);
    EXPECT_EQ(out.err,
              "lava-server: error: the database has no lava schema yet; run 'lava-server manage "
              "migrate' before starting lava-server\n");
}

const Migration kOne[] = {{1, "one", "CREATE TABLE one (x int)"}};
const Migration kTwo[] = {{1, "one", "CREATE TABLE one (x int)"},
                          {2, "two", "CREATE TABLE two (x int); INSERT INTO one VALUES (1)"}};
const Migration kTwoBroken[] = {
    {1, "one", "CREATE TABLE one (x int)"},
    {2, "two", "CREATE TABLE two (x int); INSERT INTO one VALUES (1); SELECT 1/0"}};

TEST_F(MigrateTest, RefusesAnOlderSchemaUntilMigrated) {
    pqxx::connection c(conninfo());
    ASSERT_TRUE(common::db::migrate(c, kOne));
    auto r = common::db::check_schema(c, kTwo, "lava-test");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, migrate_errc::kSchemaOlder);
    auto m = common::db::migrate(c, kTwo);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->applied, std::vector<int>{2});
    EXPECT_EQ(*common::db::check_schema(c, kTwo, "lava-test"), 2);
}

TEST_F(MigrateTest, AFailingMigrationLeavesNothingBehind) {
    pqxx::connection c(conninfo());
    auto r = common::db::migrate(c, kTwoBroken);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, migrate_errc::kMigrationFailed);
    EXPECT_NE(r.error().message.find("migration 0002 (two) failed and was rolled back: "),
              std::string::npos)
        << r.error().message;
    EXPECT_EQ(common::db::schema_version(c), 1);
    EXPECT_EQ(query("SELECT to_regclass('two') IS NULL"), "t");
    EXPECT_EQ(query("SELECT count(*) FROM one"), "0");
}

TEST_F(MigrateTest, AnEditedMigrationIsDetected) {
    pqxx::connection c(conninfo());
    ASSERT_TRUE(common::db::migrate(c, kOne));
    const Migration edited[] = {{1, "one", "CREATE TABLE one (x bigint)"}};
    auto r = common::db::migrate(c, edited);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, migrate_errc::kMigrationChanged);
    EXPECT_EQ(common::db::check_schema(c, edited, "x").error().code,
              migrate_errc::kMigrationChanged);
}

TEST_F(MigrateTest, ConcurrentRunsSerialiseOnTheAdvisoryLock) {
    std::vector<common::db::MigrateOutcome> outcomes(4);
    std::vector<std::string> errors(4);
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&, i] {
            try {
                pqxx::connection c(conninfo());
                auto r = common::db::migrate(c, server::store::migrations());
                if (r) outcomes[i] = *r;
                else errors[i] = r.error().message;
            } catch (const std::exception& e) {
                errors[i] = e.what();
            }
        });
    }
    for (auto& t : threads) t.join();
    std::size_t applied = 0;
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(errors[i], "");
        applied += outcomes[i].applied.size();
    }
    // Each migration was applied exactly once, by whichever run got the lock first.
    EXPECT_EQ(applied, server::store::migrations().size());
    EXPECT_EQ(query("SELECT count(*) FROM lava_schema_migrations"),
              std::to_string(server::store::migrations().size()));
}

}  // namespace
}  // namespace lava::test
