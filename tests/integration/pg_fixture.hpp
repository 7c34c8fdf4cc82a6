#pragma once
// Integration tests get a fresh PostgreSQL database per test, created in the
// throwaway cluster that ctest's "pg" fixture starts (tools/pg, connection
// settings in the file named by LAVA_TEST_PG_ENV), and dropped afterwards.

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <map>
#include <string>
#include <vector>

namespace lava::test {

// KEY=VALUE lines of a pg.env file.
std::map<std::string, std::string> read_env_file(const std::string& path);

class PgTest : public ::testing::Test {
protected:
    void SetUp() override;
    void TearDown() override;

    // libpq connection string for this test's database.
    const std::string& conninfo() const { return conninfo_; }
    // Applies lava-server's migrations.
    void migrate();
    // Every row of every table in the database, as text: equal snapshots
    // mean nothing was written.
    std::string snapshot();
    // Runs `lava-server --database <this db> <args...>` in-process.
    struct CliResult {
        int code;
        std::string out;
        std::string err;
    };
    CliResult cli(std::vector<std::string> args);
    // A scalar query result as text ("" for NULL); test-side inspection only.
    std::string query(const std::string& sql);

    std::string db_name_;
    std::string conninfo_;

private:
    std::string admin_conninfo_;
};

}  // namespace lava::test
