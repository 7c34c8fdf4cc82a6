# Compiler launcher, warnings and sanitizers for lava-cpp's own targets.
# Third-party headers come in through imported targets, whose include
# directories CMake marks SYSTEM, so these warnings apply to our code only.

find_program(LAVA_CCACHE ccache)
if(LAVA_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${LAVA_CCACHE}")
endif()

set(LAVA_WARNING_FLAGS -Wall -Wextra -Wshadow -Wpedantic
    -Wimplicit-fallthrough -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 reports std::variant/std::optional moves as possibly uninitialized
  # at -O2 (GCC PR 80635 and relatives): false positives in library code.
  list(APPEND LAVA_WARNING_FLAGS -Wno-maybe-uninitialized)
endif()
if(LAVA_WERROR)
  list(APPEND LAVA_WARNING_FLAGS -Werror)
endif()

# -O2 rather than CMake's default -O3 for Release: as fast for this code, and
# GCC 12 at -O3 raises false -Wrestrict errors inside std::string (GCC PR 105329).
set(CMAKE_CXX_FLAGS_RELEASE "-O2 -DNDEBUG" CACHE STRING "Release flags" FORCE)

if(LAVA_SANITIZE)
  # At -O0: at -O1 UBSan makes a Beast translation unit take ~10 minutes here.
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
