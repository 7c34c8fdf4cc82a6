# Helpers that give every lava-cpp target the same flags.
#
#   lava_add_library(<name> SOURCES ... [PUBLIC_LIBS ...] [PRIVATE_LIBS ...])
#   lava_add_executable(<name> SOURCES ... LIBS ...)
#   lava_add_gtest(<name> LABEL unit|integration SOURCES ... LIBS ... [FIXTURES ...])

function(lava_target_defaults target)
  target_compile_options(${target} PRIVATE ${LAVA_WARNING_FLAGS})
  target_compile_features(${target} PUBLIC cxx_std_20)
endfunction()

function(lava_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  # Includes are spelled from src/: #include "common/db/pool.hpp".
  target_include_directories(${name} PUBLIC "${PROJECT_SOURCE_DIR}/src")
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_LIBS} PRIVATE ${ARG_PRIVATE_LIBS})
  lava_target_defaults(${name})
endfunction()

function(lava_add_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS})
  lava_target_defaults(${name})
endfunction()

function(lava_add_gtest name)
  cmake_parse_arguments(ARG "" "LABEL" "SOURCES;LIBS;FIXTURES;ENVIRONMENT" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_include_directories(${name} PRIVATE "${PROJECT_SOURCE_DIR}/tests")
  lava_target_defaults(${name})
  set(props LABELS ${ARG_LABEL})
  if(ARG_FIXTURES)
    list(APPEND props FIXTURES_REQUIRED "${ARG_FIXTURES}")
  endif()
  if(ARG_ENVIRONMENT)
    list(APPEND props ENVIRONMENT "${ARG_ENVIRONMENT}")
  endif()
  gtest_discover_tests(${name} TEST_PREFIX "${ARG_LABEL}." DISCOVERY_TIMEOUT 60
                       PROPERTIES ${props})
endfunction()
