#include "worker/run/signals.hpp"

#include "common/base/text.hpp"
#include "worker/run/job_error.hpp"

#include <cstdio>
#include <cstdlib>

namespace lava::worker::run {

namespace data = common::data;

namespace {

bool valid_result(std::string_view r) { return r == "pass" || r == "fail" || r == "skip" || r == "unknown"; }

std::optional<double> parse_float(const std::string& text) {
    if (text.empty()) return std::nullopt;
    char* end = nullptr;
    const double d = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size()) return std::nullopt;
    return d;
}

std::string two_decimals(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%.02f", seconds);
    return text;
}

}  // namespace

std::vector<std::string> signal_words(std::string_view params) {
    std::vector<std::string> words;
    std::string word;
    for (const char c : params) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            if (!word.empty()) words.push_back(std::move(word));
            word.clear();
        } else {
            word.push_back(c);
        }
    }
    if (!word.empty()) words.push_back(std::move(word));
    return words;
}

std::map<std::string, std::string> signal_fields(std::string_view params) {
    std::map<std::string, std::string> fields;
    for (const auto& word : signal_words(params)) {
        const auto eq = word.find('=');
        if (eq == std::string::npos) continue;
        fields[word.substr(0, eq)] = word.substr(eq + 1);
    }
    return fields;
}

TestShellSignals::TestShellSignals(JobLog& log, std::string ns, std::vector<TestRunInfo> runs)
    : log_(log), ns_(std::move(ns)), runs_(std::move(runs)) {}

std::string TestShellSignals::active_pattern() const {
    if (!current_ || *current_ >= runs_.size()) return {};
    return runs_[*current_].parse_pattern;
}

void TestShellSignals::result(data::Dict msg) {
    if (set_) msg.emplace_back(data::Value("set"), data::Value(*set_));
    if (!ns_.empty()) msg.emplace_back(data::Value("namespace"), data::Value(ns_));
    log_.results(data::Value(std::move(msg)));
}

void TestShellSignals::handle(std::string_view name, std::string_view params) {
    const auto words = signal_words(params);
    if (name == "STARTRUN") {
        if (words.empty()) {
            log_.error("Invalid STARTRUN signal: no test run name");
            return;
        }
        current_name_ = words[0];
        current_ = runs_.size();
        for (std::size_t i = 0; i < runs_.size(); ++i) {
            if (runs_[i].name == words[0]) current_ = i;
        }
        started_ = std::chrono::steady_clock::now();
        set_.reset();
        log_.info("Starting test lava." + current_name_ + " (" + (words.size() > 1 ? words[1] : "") + ")");
        log_.info("Starting test suite " + current_name_.substr(current_name_.find('_') + 1));
        return;
    }
    if (name == "ENDRUN") {
        if (!current_ || words.empty() || words[0] != current_name_) {
            log_.error("Invalid ENDRUN signal '" + std::string(params) + "': no matching STARTRUN");
            return;
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
        data::Dict msg{{data::Value("definition"), data::Value("lava")}, {data::Value("case"), data::Value(current_name_)},
                       {data::Value("result"), data::Value("pass")},
                       {data::Value("duration"), data::Value(two_decimals(seconds))}};
        if (words.size() > 1) msg.emplace_back(data::Value("uuid"), data::Value(words[1]));
        if (*current_ < runs_.size()) {
            const auto& run = runs_[*current_];
            msg.emplace_back(data::Value("repository"), data::Value(run.repository));
            msg.emplace_back(data::Value("path"), data::Value(run.path));
            if (!run.revision.empty()) msg.emplace_back(data::Value("revision"), data::Value(run.revision));
            if (!run.commit_id.empty()) msg.emplace_back(data::Value("commit_id"), data::Value(run.commit_id));
        }
        set_.reset();
        result(std::move(msg));
        log_.info("Ending use of test pattern.");
        log_.info("Ending test lava." + current_name_ + " (" + (words.size() > 1 ? words[1] : "") + "), duration " +
                  two_decimals(seconds));
        current_.reset();
        current_name_.clear();
        return;
    }
    if (name == "TESTCASE") return test_case(params);
    if (name == "STARTTC") {
        if (!words.empty()) log_.mark_start(words[0]);
        return;
    }
    if (name == "ENDTC") {
        if (!words.empty()) log_.mark_end(words[0]);
        return;
    }
    if (name == "TESTSET") {
        if (!words.empty() && words[0] == "START" && words.size() > 1) {
            set_ = words[1];
            log_.info("Starting test_set " + words[1]);
        } else if (!words.empty() && words[0] == "STOP") {
            if (set_) log_.info("Closing test_set " + *set_);
            set_.reset();
        } else {
            log_.error("Invalid TESTSET signal: " + std::string(params));
        }
        return;
    }
    if (name == "TESTREFERENCE") {
        if (words.size() != 3 || !valid_result(words[1])) {
            log_.error("Invalid TESTREFERENCE signal: " + std::string(params));
            return;
        }
        if (!current_) {
            log_.error("TESTREFERENCE " + words[0] + " outside of a test run");
            return;
        }
        result({{data::Value("definition"), data::Value(current_name_)}, {data::Value("case"), data::Value(words[0])},
                {data::Value("result"), data::Value(words[1])}, {data::Value("reference"), data::Value(words[2])}});
        return;
    }
    if (name == "TESTRAISE") {
        fail(ErrorType::kTest, std::string(trim(params)));
    }
    if (name == "TESTEVENT") {
        log_.event(trim(params));
        return;
    }
    if (name == "TESTFEEDBACK") {
        log_.debug("Feedback requested for namespace " + std::string(trim(params)));
        return;
    }
    log_.warning("Unknown signal LAVA_SIGNAL_" + std::string(name) + " " + std::string(params));
}

void TestShellSignals::test_case(std::string_view params) {
    const auto fields = signal_fields(params);
    const auto id = fields.find("TEST_CASE_ID");
    const auto res = fields.find("RESULT");
    if (id == fields.end() || id->second.empty() || res == fields.end()) {
        log_.error("Invalid TESTCASE signal (needs TEST_CASE_ID and RESULT): " + std::string(params));
        return;
    }
    if (!valid_result(res->second)) {
        log_.error("Invalid result '" + res->second + "' for test case " + id->second +
                   " (pass, fail, skip or unknown)");
        return;
    }
    if (!current_) {
        log_.error("Test case " + id->second + " outside of a test run (no STARTRUN)");
        return;
    }
    data::Dict msg{{data::Value("definition"), data::Value(current_name_)}, {data::Value("case"), data::Value(id->second)},
                   {data::Value("result"), data::Value(res->second)}};
    if (const auto m = fields.find("MEASUREMENT"); m != fields.end()) {
        const auto value = parse_float(m->second);
        if (!value) {
            log_.error("Invalid measurement '" + m->second + "' for test case " + id->second);
            return;
        }
        msg.emplace_back(data::Value("measurement"), data::Value(*value));
    }
    if (const auto u = fields.find("UNITS"); u != fields.end()) msg.emplace_back(data::Value("units"), data::Value(u->second));
    result(std::move(msg));
}

void TestShellSignals::handle_pattern(const std::map<std::string, std::string>& groups) {
    if (!current_ || *current_ >= runs_.size()) return;
    const auto& run = runs_[*current_];
    const auto id_it = groups.find("test_case_id");
    const auto res_it = groups.find("result");
    if (id_it == groups.end() || res_it == groups.end()) return;
    std::string id(trim(id_it->second));
    for (auto& c : id) {
        if (c == '/') c = '_';
    }
    if (id.empty() || id.find(' ') != std::string::npos) {
        log_.warning("Skipping test case '" + id + "' from the parse pattern: empty or contains a space");
        return;
    }
    std::string res(trim(res_it->second));
    if (const auto fixed = run.fixupdict.find(res); fixed != run.fixupdict.end()) res = fixed->second;
    if (!valid_result(res)) {
        log_.warning("Skipping test case " + id + ": result '" + res + "' is not pass, fail, skip or unknown");
        return;
    }
    data::Dict msg{{data::Value("definition"), data::Value(current_name_)}, {data::Value("case"), data::Value(id)},
                   {data::Value("result"), data::Value(res)}};
    if (const auto m = groups.find("measurement"); m != groups.end() && !m->second.empty()) {
        if (const auto value = parse_float(std::string(trim(m->second)))) {
            msg.emplace_back(data::Value("measurement"), data::Value(*value));
        }
    }
    if (const auto u = groups.find("units"); u != groups.end() && !u->second.empty()) {
        msg.emplace_back(data::Value("units"), data::Value(std::string(trim(u->second))));
    }
    result(std::move(msg));
}

}  // namespace lava::worker::run
