#include "common/base/clock.hpp"

#include <gtest/gtest.h>

namespace lava {
namespace {

using namespace std::chrono_literals;

TEST(Clock, ManualClockMovesOnlyWhenAdvanced) {
    ManualClock clock(SystemTime{} + 1000s);
    const auto t0 = clock.now();
    const auto s0 = clock.steady_now();
    EXPECT_EQ(clock.now(), t0);
    clock.advance(90s);
    EXPECT_EQ(clock.now() - t0, 90s);
    EXPECT_EQ(clock.steady_now() - s0, 90s);
}

TEST(Clock, Iso8601IsNaiveUtcWithMicroseconds) {
    // 2023-01-10T10:00:00.123456 UTC
    const SystemTime t = SystemTime{} + 1673344800s + 123456us;
    EXPECT_EQ(format_iso8601(t), "2023-01-10T10:00:00.123456");
}

TEST(Clock, SystemClockIsMonotonicEnough) {
    auto& c = SystemClock::instance();
    const auto a = c.steady_now();
    const auto b = c.steady_now();
    EXPECT_LE(a, b);
}

}  // namespace
}  // namespace lava
