#include "common/base/limits.hpp"

namespace lava {
namespace {
InputLimits g_limits;  // written before threads start, read-only afterwards (see the header)
}  // namespace

const InputLimits& input_limits() { return g_limits; }

void set_input_limits(const InputLimits& limits) { g_limits = limits; }

std::string limit_message(const std::string& what, long long value, const char* setting, const char* unit) {
    return what + " " + std::to_string(value) + (unit ? std::string(" ") + unit : std::string()) + " (" + setting +
           ")";
}

}  // namespace lava
