// libFuzzer target: the YAML loader (common/yaml) that reads every job,
// test definition, device configuration and log line from outside.
// Properties: no crash, no unbounded recursion or allocation on any input;
// an accepted document nests no deeper than yaml_max_depth; dumping it and
// loading the dump gives the same value back.
#include "common/base/limits.hpp"
#include "common/yaml/dump.hpp"
#include "common/yaml/load.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace lava::common;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    auto doc = yaml::load(input);
    if (!doc) return 0;
    if (doc->depth() > static_cast<std::uint32_t>(lava::input_limits().yaml_max_depth)) std::abort();
    if (!(*doc == *doc)) return 0;  // holds a NaN: equal to nothing, not even itself
    const std::string dumped = yaml::dump(*doc);
    auto again = yaml::load(dumped);
    if (!again || !(*again == *doc)) std::abort();
    return 0;
}
