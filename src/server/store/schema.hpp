#pragma once
// The server's database schema: the migrations embedded from sql/migrations
// at build time, and the start-up check every server daemon runs.

#include "common/base/error.hpp"
#include "common/db/migrate.hpp"
#include "common/db/pool.hpp"

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace lava::server::store {

// Every migration this build knows, in order (generated file).
std::span<const common::db::Migration> migrations();

// The schema version this build expects (the newest migration).
int schema_version();

// Refuses (with a one-line error) a database that is not exactly at
// schema_version(): not migrated, behind, ahead, or with altered migrations.
Result<int> require_schema(pqxx::connection& conn, std::string_view program);

// A daemon's /readyz: nullopt when a pooled connection comes within 5 s and
// the schema is this build's; otherwise why not (one line). Never throws.
std::optional<std::string> readiness_problem(common::db::Pool& pool, std::string_view program);

}  // namespace lava::server::store
