#pragma once
// lava-test-shell's console signals (lava-protocols.md §10.2) turned into
// results, markers, events and errors, and the test definition's
// parse.pattern applied to the output of a run. Pure logic over the job's
// log: the test-shell action finds the signals on the console and hands
// them here one by one. Lives on lava-run's main thread.

#include "common/data/value.hpp"
#include "worker/run/job_log.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lava::worker::run {

// What the dispatcher knows about one test run (a test definition in a
// stage), reported with its ENDRUN result.
struct TestRunInfo {
    std::string name;  // "<idx>_<name>" (TESTRUN_ID)
    std::string uuid;
    std::string repository;
    std::string path;
    std::string revision;  // "" for none
    std::string commit_id;
    std::string parse_pattern;  // testdef parse.pattern, "" for none
    std::map<std::string, std::string> fixupdict;
};

// The console signal regex, with the name and the parameters as groups.
inline constexpr const char* kSignalPattern = "<LAVA_SIGNAL_(\\S+) ([^>]+)>";

class TestShellSignals {
public:
    TestShellSignals(JobLog& log, std::string ns, std::vector<TestRunInfo> runs);

    // One signal (`name` without LAVA_SIGNAL_, `params` as printed). Throws
    // JobFailure(kTest) on TESTRAISE.
    void handle(std::string_view name, std::string_view params);

    // A parse.pattern match during a run: the named groups.
    void handle_pattern(const std::map<std::string, std::string>& groups);

    // The parse.pattern of the run in progress ("" for none).
    std::string active_pattern() const;

    // Whether a run has started and not yet ended.
    bool in_run() const { return current_.has_value(); }

private:
    void test_case(std::string_view params);
    void result(common::data::Dict msg);

    JobLog& log_;
    std::string ns_;
    std::vector<TestRunInfo> runs_;
    std::optional<std::size_t> current_;  // index into runs_ (or npos for an unknown run)
    std::string current_name_;
    std::chrono::steady_clock::time_point started_;
    std::optional<std::string> set_;
};

// The parameters of a TESTCASE signal: KEY=VALUE words.
std::map<std::string, std::string> signal_fields(std::string_view params);

// The words of a signal's parameters (split on whitespace).
std::vector<std::string> signal_words(std::string_view params);

}  // namespace lava::worker::run
