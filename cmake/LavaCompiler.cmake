# Compiler launcher, warnings and sanitizers for lava-cpp's own targets.
# Third-party headers come in through imported targets, whose include
# directories CMake marks SYSTEM, so these warnings apply to our code only.

find_program(LAVA_CCACHE ccache)
if(LAVA_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${LAVA_CCACHE}")
endif()

set(LAVA_WARNING_FLAGS -Wall -Wextra -Wshadow -Wpedantic
    -Wimplicit-fallthrough -Wno-missing-field-initializers)
if(LAVA_WERROR)
  list(APPEND LAVA_WARNING_FLAGS -Werror)
endif()

if(LAVA_SANITIZE)
  # At -O0: at -O1 UBSan makes a Beast translation unit take ~10 minutes here.
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
