// libFuzzer target: URL/form decoding and encoding (common/net/url).
// Properties: no crash on any input; encode_form(parse_form(x)) parses back
// to the same pairs; url_decode never grows its input.
#include "common/net/url.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    using namespace lava::common::net;
    if (url_decode(input, true).size() > input.size()) std::abort();
    if (url_decode(input, false).size() > input.size()) std::abort();
    const auto pairs = parse_form(input);
    const auto again = parse_form(encode_form(pairs));
    if (again != pairs) std::abort();
    return 0;
}
