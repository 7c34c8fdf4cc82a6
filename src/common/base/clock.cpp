#include "common/base/clock.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace lava {

SystemClock& SystemClock::instance() {
    static SystemClock clock;
    return clock;
}

std::string format_iso8601(SystemTime t) {
    using namespace std::chrono;
    const auto secs = floor<seconds>(t);
    const auto micros = duration_cast<microseconds>(t - secs).count();
    const std::time_t tt = system_clock::to_time_t(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:06d}", tm, micros);
}

}  // namespace lava
