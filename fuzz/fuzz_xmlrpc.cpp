// libFuzzer target: the XML-RPC request decoder (common/xmlrpc).
// Properties: no crash on any input, nesting limited; a decoded call written
// back and decoded again writes the same bytes (the codec is stable).
#include "common/xmlrpc/value.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace lava::common::xmlrpc;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto parsed = parse_call(input);
    const auto* call = std::get_if<MethodCall>(&parsed);
    if (!call) {
        const auto& fault = std::get<Fault>(parsed);
        if (fault.code != kParseError && fault.code != kInvalidRequest) std::abort();
        return 0;
    }
    const std::string written = write_call(*call);
    const auto again = parse_call(written);
    const auto* call2 = std::get_if<MethodCall>(&again);
    if (!call2 || write_call(*call2) != written) std::abort();
    (void)parse_response(input);
    return 0;
}
