// libFuzzer target: job and test definition validation (common/job), what
// lava-server runs on every submission and anonymous validate request.
// Properties: no crash on any input; every problem found carries a message.
#include "common/job/testdef.hpp"
#include "common/job/validate.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace lava::common::job;
    static const JobValidator strict(Strictness::kStrict);
    static const JobValidator lenient(Strictness::kLenient);
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    for (const auto* validator : {&strict, &lenient}) {
        const auto check = validator->check_yaml(input);
        for (const auto& issue : check.issues) {
            if (issue.message.empty()) std::abort();
        }
    }
    (void)check_testdef_yaml(input);
    return 0;
}
