# Script mode: cmake -DOUTPUT=<file.cpp> -DSOURCE_DIR=<sql/migrations> -P EmbedMigrations.cmake
# Writes a C++ file defining lava::server::store::kMigrations from the
# NNNN_<name>.sql files, so every binary carries the exact schema it knows.
file(GLOB files RELATIVE "${SOURCE_DIR}" "${SOURCE_DIR}/*.sql")
list(SORT files)
set(body "")
set(expected 1)
foreach(f IN LISTS files)
  if(NOT f MATCHES "^([0-9][0-9][0-9][0-9])_([a-z0-9_]+)\\.sql$")
    message(FATAL_ERROR "migration file name must be NNNN_name.sql: ${f}")
  endif()
  math(EXPR version "${CMAKE_MATCH_1} + 0")
  set(name "${CMAKE_MATCH_2}")
  if(NOT version EQUAL expected)
    message(FATAL_ERROR "migrations must be numbered without gaps: expected ${expected}, found ${f}")
  endif()
  math(EXPR expected "${expected} + 1")
  file(READ "${SOURCE_DIR}/${f}" sql)
  if(sql MATCHES "\\)lava_sql\"")
    message(FATAL_ERROR "${f} contains the raw-string delimiter )lava_sql\"")
  endif()
  string(APPEND body "    {${version}, \"${name}\", R\"lava_sql(${sql})lava_sql\"},\n")
endforeach()
set(content "// Generated from sql/migrations by cmake/EmbedMigrations.cmake. Do not edit.
#include \"server/store/schema.hpp\"

namespace lava::server::store {

const common::db::Migration kMigrations[] = {
${body}};

std::span<const common::db::Migration> migrations() { return kMigrations; }

}  // namespace lava::server::store
")
include("${CMAKE_CURRENT_LIST_DIR}/WriteIfChanged.cmake")
lava_write_if_changed("${OUTPUT}" "${content}")
