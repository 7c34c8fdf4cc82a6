#include "common/job/timeout.hpp"

namespace lava::common::job {

std::optional<std::chrono::duration<double>> parse_timeout(const data::Value& timeout) {
    if (!timeout.is_dict()) return std::nullopt;
    double seconds = 0;
    constexpr std::pair<const char*, double> kUnits[] = {
        {"days", 86400.0}, {"hours", 3600.0}, {"minutes", 60.0}, {"seconds", 1.0}};
    for (const auto& [unit, factor] : kUnits) {
        const data::Value* v = timeout.find(unit);
        if (!v) continue;
        if (!v->is_number()) return std::nullopt;
        seconds += v->as_number() * factor;
    }
    return std::chrono::duration<double>(seconds);
}

}  // namespace lava::common::job
