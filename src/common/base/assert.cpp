#include "common/base/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace lava::detail {

void assert_failed(const char* expr, const char* msg, const char* file, int line) {
    std::fprintf(stderr, "lava: assertion failed: %s (%s) at %s:%d\n", expr, msg, file, line);
    std::fflush(stderr);
    std::abort();
}

}  // namespace lava::detail
