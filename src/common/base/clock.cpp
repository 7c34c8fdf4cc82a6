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

std::string python_isoformat(SystemTime t) {
    std::string text = format_iso8601(t);
    if (text.size() > 7 && text.compare(text.size() - 7, 7, ".000000") == 0) text.resize(text.size() - 7);
    return text;
}

}  // namespace lava
