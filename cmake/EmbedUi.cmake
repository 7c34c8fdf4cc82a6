# Script mode: cmake -DOUTPUT=<file.cpp> -DSOURCE_DIR=<src/server/ui> -P EmbedUi.cmake
# Writes a C++ file defining lava::server::ui::embedded_files(): every file
# under templates/ and static/ with its bytes and the first 12 hex digits of
# its SHA-256 (the static files' URLs carry it: docs/adr/0011-web-ui.md).
file(GLOB_RECURSE files RELATIVE "${SOURCE_DIR}" "${SOURCE_DIR}/templates/*" "${SOURCE_DIR}/static/*")
list(SORT files)
set(body "")
foreach(f IN LISTS files)
  if(NOT f MATCHES "^[A-Za-z0-9_./-]+$")
    message(FATAL_ERROR "UI file names are [A-Za-z0-9_./-]: ${f}")
  endif()
  file(READ "${SOURCE_DIR}/${f}" text)
  if(text MATCHES "\\)lava_ui\"")
    message(FATAL_ERROR "${f} contains the raw-string delimiter )lava_ui\"")
  endif()
  file(SHA256 "${SOURCE_DIR}/${f}" hash)
  string(SUBSTRING "${hash}" 0 12 hash)
  string(APPEND body "    {\"${f}\", R\"lava_ui(${text})lava_ui\", \"${hash}\"},\n")
endforeach()
set(content "// Generated from src/server/ui/{templates,static} by cmake/EmbedUi.cmake. Do not edit.
#include \"server/ui/assets.hpp\"

namespace lava::server::ui {

const EmbeddedFile kEmbeddedFiles[] = {
${body}};

std::span<const EmbeddedFile> embedded_files() { return kEmbeddedFiles; }

}  // namespace lava::server::ui
")
include("${CMAKE_CURRENT_LIST_DIR}/WriteIfChanged.cmake")
lava_write_if_changed("${OUTPUT}" "${content}")
