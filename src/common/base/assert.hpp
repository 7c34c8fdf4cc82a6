#pragma once
// LAVA_ASSERT: an always-on check for programming errors (never for input).
// A failed assertion prints the condition and location and aborts, in every
// build type, so a broken invariant is never silently carried on.

namespace lava::detail {
[[noreturn]] void assert_failed(const char* expr, const char* msg, const char* file, int line);
}  // namespace lava::detail

#define LAVA_ASSERT(cond, msg)                                              \
    do {                                                                    \
        if (!(cond)) [[unlikely]] {                                         \
            ::lava::detail::assert_failed(#cond, (msg), __FILE__, __LINE__); \
        }                                                                   \
    } while (false)
