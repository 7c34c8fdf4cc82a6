#include "integration/pg_fixture.hpp"

#include "common/db/migrate.hpp"
#include "server/web/cli.hpp"
#include "server/store/schema.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

namespace lava::test {
namespace {

std::string quote(const std::string& v) {
    std::string out = "'";
    for (char c : v) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}

}  // namespace

std::map<std::string, std::string> read_env_file(const std::string& path) {
    std::map<std::string, std::string> out;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
        const auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        out[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return out;
}

void PgTest::SetUp() {
    const char* env_file = std::getenv("LAVA_TEST_PG_ENV");
    ASSERT_NE(env_file, nullptr)
        << "LAVA_TEST_PG_ENV is not set: run through ctest (ctest -L integration), which starts "
           "the throwaway PostgreSQL, or start one with tools/pg and point LAVA_TEST_PG_ENV at "
           "its pg.env";
    const auto env = read_env_file(env_file);
    ASSERT_TRUE(env.contains("PGHOST")) << "no PGHOST in " << env_file;
    const std::string base = "host=" + quote(env.at("PGHOST")) + " port=" + env.at("PGPORT") +
                             " user=" + env.at("PGUSER");
    admin_conninfo_ = base + " dbname=" + env.at("PGDATABASE");
    std::random_device rd;
    db_name_ = "lava_t_" + std::to_string(::getpid()) + "_" + std::to_string(rd() % 1000000);
    pqxx::connection admin(admin_conninfo_);
    pqxx::nontransaction(admin).exec0("CREATE DATABASE " + admin.quote_name(db_name_));
    conninfo_ = base + " dbname=" + db_name_;
}

void PgTest::TearDown() {
    if (db_name_.empty()) return;
    pqxx::connection admin(admin_conninfo_);
    pqxx::nontransaction(admin).exec0("DROP DATABASE IF EXISTS " + admin.quote_name(db_name_) +
                                      " WITH (FORCE)");
}

void PgTest::migrate() {
    pqxx::connection c(conninfo_);
    auto r = common::db::migrate(c, server::store::migrations());
    ASSERT_TRUE(r) << r.error().message;
}

std::string PgTest::snapshot() {
    pqxx::connection c(conninfo_);
    pqxx::read_transaction t(c);
    std::ostringstream out;
    for (const auto& table : t.exec(
             "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")) {
        const auto name = table[0].as<std::string>();
        out << "== " << name << "\n";
        const auto rows = t.exec("SELECT coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '') "
                                 "FROM " + c.quote_name(name) + " x");
        out << rows[0][0].as<std::string>() << "\n";
    }
    return out.str();
}

PgTest::CliResult PgTest::cli(std::vector<std::string> args) {
    args.insert(args.begin(), {"lava-server", "--database", conninfo_});
    std::ostringstream out, err;
    const int code = server::web::run_cli(args, out, err);
    return {code, out.str(), err.str()};
}

std::string PgTest::query(const std::string& sql) {
    pqxx::connection c(conninfo_);
    pqxx::read_transaction t(c);
    const auto r = t.exec1(sql);
    return r[0].is_null() ? "" : r[0].as<std::string>();
}

}  // namespace lava::test
