// libFuzzer target: the worker API's log batches (common/proto/logline).
// Properties: no crash on any input; every accepted record dumps to a line
// that parses back to the same record, and dumping is stable; the fast path
// for canonical lines answers exactly what libyaml answers.
#include "common/proto/logline.hpp"
#include "common/yaml/load.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    if (input.find('\n') == std::string_view::npos) {
        if (auto fast = lava::proto::parse_canonical_record(input)) {
            auto slow = lava::common::yaml::load(input);
            if (!slow || !slow->is_list() || slow->as_list().size() != 1) std::abort();
            if (!(slow->as_list()[0] == *fast)) std::abort();
        }
    }
    auto lines = lava::proto::parse_log_batch(input);
    if (!lines) return 0;
    for (const auto& line : *lines) {
        const std::string dumped = lava::proto::dump_log_record(line.record);
        auto again = lava::proto::parse_log_batch("- " + dumped);
        if (!again || again->size() != 1) std::abort();
        if (lava::proto::dump_log_record((*again)[0].record) != dumped) std::abort();
    }
    return 0;
}
