# Every dependency comes from a Debian 12 package (see tools/install-deps).
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED CONFIG COMPONENTS headers)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(OpenSSL REQUIRED)
# ZeroMQ: the event bus (lava-server -> lava-publisher, publisher -> subscribers).
find_package(cppzmq REQUIRED)
find_package(pugixml 1.11 REQUIRED)
find_package(PkgConfig REQUIRED)
# libpqxx 6.4 ships no CMake config file.
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx)
# libyaml: the parser PyYAML's CSafeLoader uses (job definitions, device configurations).
pkg_check_modules(LIBYAML REQUIRED IMPORTED_TARGET yaml-0.1)
# Python-compatible regular expressions (test-definition parse patterns).
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
# lava-run: decompression, tar and cpio (libarchive).
pkg_check_modules(LIBARCHIVE REQUIRED IMPORTED_TARGET libarchive)
if(LAVA_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
