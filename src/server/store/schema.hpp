#pragma once
// The server's database schema: the migrations embedded from sql/migrations
// at build time, and the start-up check every server daemon runs.

#include "common/base/error.hpp"
#include "common/db/migrate.hpp"

#include <span>
#include <string_view>

namespace lava::server::store {

// Every migration this build knows, in order (generated file).
std::span<const common::db::Migration> migrations();

// The schema version this build expects (the newest migration).
int schema_version();

// Refuses (with a one-line error) a database that is not exactly at
// schema_version(): not migrated, behind, ahead, or with altered migrations.
Result<int> require_schema(pqxx::connection& conn, std::string_view program);

}  // namespace lava::server::store
