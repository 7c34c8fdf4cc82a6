// Throughput of job validation and latency of device-dictionary rendering.
//   lava-bench-definitions DIR    (DIR: the bench fixtures written by bench/definitions)
// Prints one line per figure; bench/definitions runs it beside LAVA's Python.

#include "common/device/device.hpp"
#include "common/job/validate.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

std::string read(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

void bench_validation(const char* label, const std::string& text, int iterations) {
    const lava::common::job::JobValidator validator;
    if (!validator.check_yaml(text).ok()) {
        std::printf("%s: INVALID fixture: %s\n", label, lava::common::schema::join(validator.check_yaml(text).issues).c_str());
        return;
    }
    for (int i = 0; i < iterations / 10; ++i) (void)validator.check_yaml(text);  // warm up
    const auto start = Clock::now();
    for (int i = 0; i < iterations; ++i) {
        if (!validator.check_yaml(text).ok()) std::abort();
    }
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("lava-cpp  validate %-22s %9.0f jobs/s  (%.1f us/job, %d jobs)\n", label,
                iterations / secs, 1e6 * secs / iterations, iterations);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: lava-bench-definitions FIXTURES_DIR\n");
        return 2;
    }
    const std::string dir = argv[1];
    bench_validation("3-action job", read(dir + "/job-3-actions.yaml"), 20000);
    bench_validation("10-node MultiNode job", read(dir + "/job-multinode-10.yaml"), 5000);

    const lava::common::device::DeviceConfig config({dir + "/dispatcher-config", {}});
    const lava::common::data::Dict context{{lava::common::data::Value("arch"),
                                            lava::common::data::Value("arm64")}};
    auto first = config.render_text("deep01", context);
    if (!first) {
        std::printf("render failed: %s\n", first.error().message.c_str());
        return 1;
    }
    std::vector<double> us;
    for (int i = 0; i < 5000; ++i) {
        const auto t0 = Clock::now();
        auto out = config.render_text("deep01", context);
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        if (!out) return 1;
    }
    std::printf("lava-cpp  render 5-deep chain + dictionary: p50 %.0f us, p99 %.0f us (%zu renders, "
                "%zu bytes)\n", percentile(us, 0.5), percentile(us, 0.99), us.size(), first->size());
    us.clear();
    for (int i = 0; i < 2000; ++i) {
        const auto t0 = Clock::now();
        auto out = config.render("deep01", context);  // + YAML parse + device schema
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        if (!out) {
            std::printf("render+validate failed: %s\n", out.error().message.c_str());
            return 1;
        }
    }
    std::printf("lava-cpp  render + parse + validate:         p50 %.0f us, p99 %.0f us\n",
                percentile(us, 0.5), percentile(us, 0.99));
    return 0;
}
