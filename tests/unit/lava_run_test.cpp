// lava-run's logic without a DUT: log records, signals, timeouts, the
// overlay's layout and archive, the QEMU command, command-line splitting.
#include "common/proto/logline.hpp"
#include "yaml_value.hpp"
#include "worker/run/actions.hpp"
#include "worker/run/command.hpp"
#include "worker/run/download.hpp"
#include "worker/run/job_error.hpp"
#include "worker/run/job_log.hpp"
#include "worker/run/overlay.hpp"
#include "worker/run/pipeline.hpp"
#include "worker/run/qemu.hpp"
#include "worker/run/signals.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <thread>
#include <algorithm>

namespace lava::worker::run {
namespace {

namespace data = common::data;
namespace fs = std::filesystem;

// A JobLog whose lines are kept in memory, parsed back with the log reader.
struct CapturedLog {
    std::vector<std::string> lines;
    JobLog log{"", false, [this](std::string line) { lines.push_back(std::move(line)); }};
    CapturedLog() {
        log.set_clock([] { return std::string("2023-01-10T10:00:00.123456"); });
    }
    std::vector<data::Value> records() const {
        std::string all;
        for (const auto& l : lines) all += l + "\n";
        auto parsed = proto::parse_log_batch(all);
        EXPECT_TRUE(parsed) << all;
        std::vector<data::Value> out;
        if (parsed) {
            for (const auto& p : *parsed) out.push_back(p.record);
        }
        return out;
    }
    std::vector<data::Value> results() const {
        std::vector<data::Value> out;
        for (const auto& r : records()) {
            if (r.find("lvl")->as_str() == "results") out.push_back(*r.find("msg"));
        }
        return out;
    }
};

// ------------------------------------------------------------ log records

TEST(JobLog, RecordsRoundTripThroughTheLogReader) {
    CapturedLog c;
    c.log.info("plain text with \"quotes\" and a \x1b[6n escape");
    c.log.target("root@dut:~# ");
    c.log.results(data::Value(data::Dict{{data::Value("case"), data::Value("c1")},
                                         {data::Value("definition"), data::Value("0_smoke")},
                                         {data::Value("measurement"), data::Value(12.5)},
                                         {data::Value("result"), data::Value("pass")}}));
    c.log.feedback("from the other side", "ns2");
    ASSERT_EQ(c.lines.size(), 4u);
    EXPECT_EQ(c.lines[1], "- {\"dt\": \"2023-01-10T10:00:00.123456\", \"lvl\": \"target\", \"msg\": \"root@dut:~# \"}");
    // Non-strings are PyYAML's `! "12.5"` and read back as numbers.
    EXPECT_NE(c.lines[2].find("\"measurement\": ! \"12.5\""), std::string::npos) << c.lines[2];
    const auto records = c.records();
    ASSERT_EQ(records.size(), 4u);
    EXPECT_EQ(records[0].find("msg")->as_str(), "plain text with \"quotes\" and a \x1b[6n escape");
    EXPECT_EQ(records[2].find("msg")->find("measurement")->as_number(), 12.5);
    EXPECT_EQ(records[3].find("ns")->as_str(), "ns2");
    EXPECT_EQ(c.log.lines(), 4u);
}

TEST(JobLog, SecretsAreMasked) {
    CapturedLog c;
    c.log.add_secret("hunter2");
    c.log.target("export TOKEN=hunter2; echo hunter2hunter2");
    EXPECT_EQ(c.records()[0].find("msg")->as_str(), "export TOKEN=[MASKED]; echo [MASKED][MASKED]");
}

TEST(JobLog, HugeLinesAreReplaced) {
    CapturedLog c;
    c.log.target(std::string(1'100'000, 'x'));
    EXPECT_EQ(c.records()[0].find("msg")->as_str(), "<line way too long ...>");
}

TEST(JobLog, TimestampIsNaiveUtcIsoformat) {
    const auto t = log_timestamp();
    ASSERT_GE(t.size(), 19u);
    EXPECT_EQ(t[4], '-');
    EXPECT_EQ(t[10], 'T');
    EXPECT_EQ(t.find('+'), std::string::npos);
    EXPECT_TRUE(t.size() == 19 || t.size() == 26) << t;
}

// ------------------------------------------------------------ signals

TestRunInfo run_info() {
    TestRunInfo info;
    info.name = "0_smoke";
    info.uuid = "42_0.0";
    info.repository = "inline";
    info.path = "inline/smoke.yaml";
    info.parse_pattern = "(?P<test_case_id>\\S+): (?P<result>\\S+)";
    info.fixupdict = {{"PASS", "pass"}, {"FAIL", "fail"}};
    return info;
}

std::map<std::string, data::Value> by_case(const std::vector<data::Value>& results) {
    std::map<std::string, data::Value> out;
    for (const auto& r : results) out[r.find("case")->as_str()] = r;
    return out;
}

TEST(Signals, AFullRun) {
    CapturedLog c;
    TestShellSignals s(c.log, "", {run_info()});
    s.handle("TESTCASE", "TEST_CASE_ID=early RESULT=pass");  // before STARTRUN: an error, no result
    s.handle("STARTRUN", "0_smoke 42_0.0");
    EXPECT_TRUE(s.in_run());
    EXPECT_EQ(s.active_pattern(), run_info().parse_pattern);
    s.handle("TESTCASE", "TEST_CASE_ID=a RESULT=pass");
    s.handle("TESTCASE", "TEST_CASE_ID=m RESULT=fail UNITS=ms MEASUREMENT=3.25");
    s.handle("TESTCASE", "TEST_CASE_ID=bad RESULT=maybe");
    s.handle("TESTCASE", "TEST_CASE_ID=badm RESULT=pass MEASUREMENT=lots");
    s.handle("TESTSET", "START group1");
    s.handle("TESTCASE", "TEST_CASE_ID=in-set RESULT=skip");
    s.handle("TESTSET", "STOP");
    s.handle("TESTREFERENCE", "ref pass http://example.com/x");
    s.handle("STARTTC", "shell");
    c.log.target("some output");
    s.handle("ENDTC", "shell");
    s.handle("TESTCASE", "TEST_CASE_ID=shell RESULT=pass");
    s.handle_pattern({{"test_case_id", "from/pattern"}, {"result", "PASS"}});
    s.handle_pattern({{"test_case_id", "has space"}, {"result", "PASS"}});
    s.handle_pattern({{"test_case_id", "odd"}, {"result", "WEIRD"}});
    s.handle("TESTEVENT", "boot-done");
    s.handle("ENDRUN", "0_smoke 42_0.0");
    EXPECT_FALSE(s.in_run());

    const auto results = by_case(c.results());
    EXPECT_EQ(results.count("early"), 0u);
    EXPECT_EQ(results.count("bad"), 0u);
    EXPECT_EQ(results.count("badm"), 0u);
    EXPECT_EQ(results.count("has space"), 0u);
    EXPECT_EQ(results.count("odd"), 0u);
    EXPECT_EQ(results.at("a").find("definition")->as_str(), "0_smoke");
    EXPECT_EQ(results.at("a").find("result")->as_str(), "pass");
    EXPECT_EQ(results.at("m").find("measurement")->as_number(), 3.25);
    EXPECT_EQ(results.at("m").find("units")->as_str(), "ms");
    EXPECT_EQ(results.at("in-set").find("set")->as_str(), "group1");
    EXPECT_EQ(results.at("a").find("set"), nullptr);
    EXPECT_EQ(results.at("ref").find("reference")->as_str(), "http://example.com/x");
    const auto& shell = results.at("shell");
    ASSERT_NE(shell.find("starttc"), nullptr);
    EXPECT_LT(shell.find("starttc")->as_int(), shell.find("endtc")->as_int());
    EXPECT_EQ(results.at("from_pattern").find("result")->as_str(), "pass");
    const auto& run = results.at("0_smoke");
    EXPECT_EQ(run.find("definition")->as_str(), "lava");
    EXPECT_EQ(run.find("uuid")->as_str(), "42_0.0");
    EXPECT_EQ(run.find("repository")->as_str(), "inline");
    EXPECT_EQ(run.find("result")->as_str(), "pass");
    bool event = false;
    for (const auto& r : c.records()) event = event || (r.find("lvl")->as_str() == "event" && r.find("msg")->as_str() == "boot-done");
    EXPECT_TRUE(event);
}

TEST(Signals, TestRaiseIsATestError) {
    CapturedLog c;
    TestShellSignals s(c.log, "", {run_info()});
    s.handle("STARTRUN", "0_smoke 42_0.0");
    try {
        s.handle("TESTRAISE", "disk on fire ");
        FAIL() << "TESTRAISE must throw";
    } catch (const JobFailure& f) {
        EXPECT_EQ(f.type(), ErrorType::kTest);
        EXPECT_STREQ(f.what(), "disk on fire");
    }
}

TEST(Signals, NamespaceGoesIntoResults) {
    CapturedLog c;
    TestShellSignals s(c.log, "target", {run_info()});
    s.handle("STARTRUN", "0_smoke 42_0.0");
    s.handle("TESTCASE", "TEST_CASE_ID=a RESULT=unknown");
    EXPECT_EQ(c.results().at(0).find("namespace")->as_str(), "target");
}

TEST(Signals, FieldsAndWords) {
    EXPECT_EQ(signal_words("  a\tb  c "), (std::vector<std::string>{"a", "b", "c"}));
    const auto f = signal_fields("TEST_CASE_ID=x RESULT=pass junk UNITS=");
    EXPECT_EQ(f.at("TEST_CASE_ID"), "x");
    EXPECT_EQ(f.at("UNITS"), "");
    EXPECT_EQ(f.count("junk"), 0u);
}

// ------------------------------------------------------------ timeouts

struct Ctx {
    CapturedLog c;
    std::atomic<bool> canceled{false};
    JobContext ctx{c.log, {}, {}, {}, {}, "1", "", "", canceled, -1, {}};
};

TEST(Timeouts, LavaPrecedence) {
    Ctx t;
    t.ctx.device = yaml(
        "timeouts:\n  actions:\n    auto-login-action: {minutes: 2}\n    other: {seconds: 7}\n"
        "  connections:\n    auto-login-action: {seconds: 40}\n");
    t.ctx.job = yaml("timeouts:\n  job: {hours: 1}\n  action: {minutes: 5}\n  connection: {seconds: 20}\n"
                     "  actions:\n    auto-login-action: {minutes: 3}\n");
    Action defaults("unnamed", "", "");
    defaults.configure(t.ctx, data::Value());
    EXPECT_EQ(defaults.timeout().count(), 300);  // job `action`
    EXPECT_EQ(defaults.connection_timeout().count(), 20);
    Action device_only("other", "", "");
    device_only.configure(t.ctx, data::Value());
    EXPECT_EQ(device_only.timeout().count(), 7);  // device actions.<name> beats job `action`
    Action login("auto-login-action", "", "");
    login.configure(t.ctx, data::Value());
    EXPECT_EQ(login.timeout().count(), 180);  // job actions.<name> beats device's
    EXPECT_EQ(login.connection_timeout().count(), 40);
    Action block("auto-login-action", "", "");
    block.configure(t.ctx, yaml("timeout: {seconds: 90}\n"));
    EXPECT_EQ(block.timeout().count(), 90);  // the block's timeout beats both
    Action named("auto-login-action", "", "");
    named.configure(t.ctx, yaml("timeout: {seconds: 90}\ntimeouts: {auto-login-action: {seconds: 15}}\n"));
    EXPECT_EQ(named.timeout().count(), 15);  // the block's timeouts.<name> last
    Action none("x", "", "");
    t.ctx.job = data::Value();
    t.ctx.device = data::Value();
    none.configure(t.ctx, data::Value());
    EXPECT_EQ(none.timeout().count(), 30);  // LAVA's default
}

TEST(Timeouts, DurationText) {
    EXPECT_EQ(duration_text(Seconds(0)), "00:00:00");
    EXPECT_EQ(duration_text(Seconds(3725.4)), "01:02:05");
}

// A test action that takes longer than its timeout is named in the failure.
class Sleeper : public Action {
public:
    Sleeper() : Action("sleeper", "", "") {}
    void run(JobContext&, Clock::time_point deadline) override {
        // What a console wait does when nothing matches: return at the deadline.
        std::this_thread::sleep_until(deadline);
        fail(ErrorType::kLAVATimeout, "console: timed out");
    }
};

TEST(Timeouts, TheActionWhoseTimeoutExpiredIsNamed) {
    Ctx t;
    std::vector<std::unique_ptr<Action>> actions;
    actions.push_back(std::make_unique<Sleeper>());
    actions[0]->configure(t.ctx, yaml("timeout: {seconds: 1}\n"));
    actions[0]->assign_levels("1");
    try {
        run_actions(actions, t.ctx, Clock::now() + std::chrono::hours(1), true);
        FAIL();
    } catch (const JobFailure& f) {
        EXPECT_EQ(f.type(), ErrorType::kLAVATimeout);
        EXPECT_STREQ(f.what(), "sleeper timed out after 1 seconds");
    }
    const auto results = t.c.results();
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].find("result")->as_str(), "fail");
    EXPECT_EQ(results[0].find("level")->as_str(), "1");
    // skip: true lets the next block run.
    actions[0]->configure(t.ctx, yaml("timeout: {seconds: 1, skip: true}\n"));
    EXPECT_NO_THROW(run_actions(actions, t.ctx, Clock::now() + std::chrono::hours(1), true));
}

// Fails the first `failures` times it runs.
class Flaky : public Action {
public:
    explicit Flaky(int failures) : Action("flaky", "", ""), failures_(failures) {}
    void run(JobContext&, Clock::time_point) override {
        ++runs;
        if (runs <= failures_) fail(ErrorType::kInfrastructure, "flaky failure " + std::to_string(runs));
    }
    int runs = 0;

private:
    int failures_;
};

TEST(Retry, FailureRetryAndRepeat) {
    Ctx t;
    auto retry = std::make_unique<RetryAction>("flaky-retry", "", "");
    retry->configure(t.ctx, yaml("failure_retry: 3\nrepeat: 2\n"));
    auto child = std::make_unique<Flaky>(2);
    auto* flaky = child.get();
    retry->add(std::move(child));
    retry->assign_levels("1");
    std::vector<std::unique_ptr<Action>> actions;
    actions.push_back(std::move(retry));
    EXPECT_NO_THROW(run_actions(actions, t.ctx, Clock::now() + std::chrono::seconds(10), true));
    EXPECT_EQ(flaky->runs, 4);  // two failures, a pass, then the repeat's pass
    EXPECT_EQ(actions[0]->max_retries(), 3);
    // A nested retry action (same block parameters) neither retries nor repeats again.
    RetryAction nested("inner-retry", "", "");
    nested.configure(t.ctx, yaml("failure_retry: 3\nrepeat: 2\n"));
    nested.assign_levels("1.1");
    EXPECT_EQ(nested.max_retries(), 1);

    // Out of retries: the last failure is the job's.
    auto again = std::make_unique<RetryAction>("flaky-retry", "", "");
    again->configure(t.ctx, yaml("failure_retry: 2\n"));
    again->add(std::make_unique<Flaky>(5));
    again->assign_levels("2");
    actions.clear();
    actions.push_back(std::move(again));
    try {
        run_actions(actions, t.ctx, Clock::now() + std::chrono::seconds(10), true);
        FAIL();
    } catch (const JobFailure& f) {
        EXPECT_EQ(f.type(), ErrorType::kInfrastructure);
        EXPECT_STREQ(f.what(), "flaky failure 2");
    }
}

TEST(Retry, CanceledJobsDoNotRetryButFinalizeRuns) {
    Ctx t;
    t.canceled = true;
    std::vector<std::unique_ptr<Action>> actions;
    actions.push_back(std::make_unique<Flaky>(0));
    actions[0]->assign_levels("1");
    EXPECT_THROW(run_actions(actions, t.ctx, Clock::now() + std::chrono::seconds(10), true), JobFailure);
    EXPECT_EQ(static_cast<Flaky*>(actions[0].get())->runs, 0);
    std::vector<std::unique_ptr<Action>> last;
    last.push_back(build_finalize(t.ctx));
    last[0]->assign_levels("2");
    EXPECT_NO_THROW(run_actions(last, t.ctx, Clock::now() + std::chrono::seconds(10), true));
    bool finalized = false;
    for (const auto& r : t.c.results()) finalized = finalized || (r.find("case")->as_str() == "power-off" && r.find("result")->as_str() == "pass");
    EXPECT_TRUE(finalized);
}

// ------------------------------------------------------------ overlay

struct TempDir {
    fs::path path = fs::temp_directory_path() / ("lava-run-test-" + std::to_string(::getpid()) + "-" +
                                                 std::to_string(std::rand()));
    TempDir() { fs::create_directories(path); }
    ~TempDir() { fs::remove_all(path); }
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(Overlay, LayoutAndArchive) {
    TempDir dir;
    CapturedLog c;
    std::atomic<bool> canceled{false};
    Overlay overlay({(dir.path / "tree").string(), "/lava-42", "/bin/sh", "42"});
    overlay.write_base();
    overlay.write_environment({{"LAVA_JOB_ID", "42"}, {"GREETING", "it's here"}});
    overlay.write_secrets({{"TOKEN", "abc"}});
    const auto def = yaml(
        "from: inline\nname: smoke\npath: inline/smoke.yaml\nparameters: {MODE: fast}\n"
        "repository:\n  metadata: {format: Lava-Test Test Definition 1.0, name: smoke}\n"
        "  params: {MODE: slow, LEVEL: 3}\n  install: {steps: [echo installing]}\n"
        "  parse: {pattern: '(?P<test_case_id>\\S+): (?P<result>\\S+)', fixupdict: {OK: pass}}\n"
        "  run: {steps: [lava-test-case a --result pass, 'lava-test-case b --shell test $1 = x']}\n");
    const auto info = overlay.add_definition(0, 0, def, Clock::now() + std::chrono::seconds(10), canceled, c.log);
    overlay.finish_stage(0);
    EXPECT_EQ(info.name, "0_smoke");
    EXPECT_EQ(info.uuid, "42_0.0");
    EXPECT_EQ(info.fixupdict.at("OK"), "pass");

    const fs::path r = dir.path / "tree" / "lava-42";
    for (const auto& [name, body] : helper_scripts()) {
        const auto script = slurp(r / "bin" / name);
        EXPECT_EQ(script.rfind("#!/bin/sh\n", 0), 0u) << name;
        EXPECT_TRUE((fs::status(r / "bin" / name).permissions() & fs::perms::owner_exec) != fs::perms::none) << name;
    }
    EXPECT_EQ(slurp(r / "environment"), "export LAVA_JOB_ID=42\nexport GREETING='it'\"'\"'s here'\n");
    EXPECT_EQ(slurp(r / "secrets"), "TOKEN=abc\n");
    EXPECT_TRUE(fs::is_directory(r / "results"));
    EXPECT_EQ(slurp(r / "0" / "lava-test-runner.conf"), "/lava-42/0/tests/0_smoke\n");
    const fs::path t = r / "0" / "tests" / "0_smoke";
    EXPECT_EQ(slurp(t / "uuid"), "42_0.0");
    const auto run_sh = slurp(t / "run.sh");
    // Defaults first, then the job's parameters (which win when sourced in order).
    EXPECT_NE(run_sh.find("###default parameters from test definition###\nMODE=slow\nLEVEL=3\n######\n"), std::string::npos) << run_sh;
    EXPECT_NE(run_sh.find("###test parameters from job submission###\nMODE=fast\n######\n"), std::string::npos) << run_sh;
    EXPECT_NE(run_sh.find("export TESTRUN_ID=0_smoke\ncd /lava-42/0/tests/0_smoke\n"), std::string::npos);
    EXPECT_NE(run_sh.find("echo \"<LAVA_SIGNAL_STARTRUN $TESTRUN_ID $UUID>\""), std::string::npos);
    EXPECT_NE(run_sh.find("lava-test-case b --shell test \\$1 = x\n"), std::string::npos) << run_sh;
    EXPECT_LT(run_sh.find("lava-test-case a"), run_sh.find("<LAVA_SIGNAL_ENDRUN"));
    EXPECT_NE(slurp(t / "install.sh").find("cd /lava-42/0/tests/0_smoke\npwd\necho installing\n"), std::string::npos);
    EXPECT_TRUE(fs::exists(t / "inline" / "smoke.yaml"));

    // The cpio archive: paths relative to /, directories before their files.
    const auto archive_path = (dir.path / "overlay.cpio.gz").string();
    overlay.write_cpio_gz(archive_path);
    std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
    archive_read_support_filter_gzip(a.get());
    archive_read_support_format_cpio(a.get());
    ASSERT_EQ(archive_read_open_filename(a.get(), archive_path.c_str(), 10240), ARCHIVE_OK);
    std::vector<std::string> names;
    archive_entry* entry = nullptr;
    while (archive_read_next_header(a.get(), &entry) == ARCHIVE_OK) {
        names.emplace_back(archive_entry_pathname(entry));
        EXPECT_EQ(archive_entry_uid(entry), 0);
    }
    ASSERT_FALSE(names.empty());
    EXPECT_EQ(names.front(), "lava-42");
    const std::set<std::string> all(names.begin(), names.end());
    EXPECT_TRUE(all.count("lava-42/bin/lava-test-runner"));
    EXPECT_TRUE(all.count("lava-42/0/tests/0_smoke/run.sh"));
    for (std::size_t i = 0; i < names.size(); ++i) {
        const auto parent = fs::path(names[i]).parent_path().string();
        if (parent.empty()) continue;
        const auto at = std::find(names.begin(), names.end(), parent);
        EXPECT_LT(at - names.begin(), static_cast<long>(i)) << names[i];
    }
}

TEST(Overlay, BadDefinitionsAreJobErrors) {
    TempDir dir;
    CapturedLog c;
    std::atomic<bool> canceled{false};
    Overlay overlay({(dir.path / "tree").string(), "/lava-1", "/bin/sh", "1"});
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    EXPECT_THROW(overlay.add_definition(0, 0, yaml("from: inline\nname: x\nrepository: not-a-mapping\n"), deadline, canceled, c.log), JobFailure);
    EXPECT_THROW(overlay.add_definition(0, 0, yaml("from: svn\nname: x\n"), deadline, canceled, c.log), JobFailure);
    try {
        overlay.add_definition(0, 1, yaml("from: inline\nname: lava\nrepository: {metadata: {name: x}}\n"), deadline, canceled, c.log);
        FAIL();
    } catch (const JobFailure& f) {
        EXPECT_EQ(f.type(), ErrorType::kTest);
    }
}

// A gzip'd tar archive of `entries` (name, type, content or link target, mode).
struct TarEntry {
    std::string name;
    unsigned type = AE_IFREG;
    std::string data;  // the content, or the link target of AE_IFLNK / a hard link
    int mode = 0644;
    bool hardlink = false;
};

void write_tar(const fs::path& path, const std::vector<TarEntry>& entries) {
    std::unique_ptr<archive, decltype(&archive_write_free)> a(archive_write_new(), archive_write_free);
    archive_write_set_format_pax_restricted(a.get());
    archive_write_add_filter_gzip(a.get());
    ASSERT_EQ(archive_write_open_filename(a.get(), path.c_str()), ARCHIVE_OK);
    for (const auto& e : entries) {
        std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(), archive_entry_free);
        archive_entry_set_pathname(entry.get(), e.name.c_str());
        archive_entry_set_filetype(entry.get(), e.type);
        archive_entry_set_perm(entry.get(), static_cast<mode_t>(e.mode));
        if (e.hardlink) {
            archive_entry_set_hardlink(entry.get(), e.data.c_str());
        } else if (e.type == AE_IFLNK) {
            archive_entry_set_symlink(entry.get(), e.data.c_str());
        } else if (e.type == AE_IFREG) {
            archive_entry_set_size(entry.get(), static_cast<la_int64_t>(e.data.size()));
        }
        ASSERT_EQ(archive_write_header(a.get(), entry.get()), ARCHIVE_OK);
        if (e.type == AE_IFREG && !e.hardlink) archive_write_data(a.get(), e.data.data(), e.data.size());
    }
    ASSERT_EQ(archive_write_close(a.get()), ARCHIVE_OK);
}

const std::string kTestdef = "metadata: {format: Lava-Test Test Definition 1.0, name: t}\nrun: {steps: [echo]}\n";

// Issue 14: a job's paths stay inside its test directory, also through the
// symbolic links a test repository may hold; nothing is written through them.
TEST(Overlay, PathsStayInsideTheTestDirectory) {
    TempDir dir;
    CapturedLog c;
    std::atomic<bool> canceled{false};
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    Overlay overlay({(dir.path / "tree").string(), "/lava-7", "/bin/sh", "7"});
    overlay.write_base();
    const fs::path outside = dir.path / "outside.txt";
    std::ofstream(outside) << "host file\n";
    auto failure = [&](const std::string& def) {
        try {
            overlay.add_definition(0, 0, yaml(def), deadline, canceled, c.log);
        } catch (const JobFailure& f) {
            EXPECT_EQ(f.type(), ErrorType::kJob) << def;
            return std::string(f.what());
        }
        return std::string("accepted");
    };
    EXPECT_NE(failure("from: inline\nname: x\npath: ../../../../../../outside.yaml\nrepository: {metadata: {name: x}}\n")
                  .find("contains '..'"),
              std::string::npos);
    EXPECT_FALSE(fs::exists(dir.path / "outside.yaml"));
    EXPECT_NE(failure("from: inline\nname: x\npath: " + (dir.path / "abs.yaml").string() + "\nrepository: {metadata: {name: x}}\n")
                  .find("absolute"),
              std::string::npos);
    EXPECT_NE(failure("from: inline\nname: a/b\npath: a.yaml\nrepository: {metadata: {name: x}}\n").find("name"),
              std::string::npos);
    // What git would read as an option is refused before git runs.
    EXPECT_NE(failure("from: git\nname: g\npath: t.yaml\nrepository: /nonexistent\nrevision: --upload-pack=touch x\n")
                  .find("starts with '-'"),
              std::string::npos);
    EXPECT_NE(failure("from: git\nname: g\npath: t.yaml\nrepository: /nonexistent\nbranch: -x\n").find("starts with '-'"),
              std::string::npos);

    // A url definition whose archive links out of the test directory.
    const fs::path tar = dir.path / "tests.tar.gz";
    write_tar(tar, {{"testdef.yaml", AE_IFREG, kTestdef},
                    {"leak.yaml", AE_IFLNK, outside.string()},
                    {"run.sh", AE_IFLNK, outside.string()},
                    {"uuid", AE_IFLNK, "../../../../../../outside.txt"}});
    const std::string url = "from: url\nname: t\ncompression: gz\nrepository: file://" + tar.string() + "\n";
    EXPECT_NE(failure(url + "path: leak.yaml\n").find("leads out of its directory through a symbolic link"),
              std::string::npos);
    EXPECT_EQ(failure(url + "path: testdef.yaml\n"), "accepted");
    // lava-run's own files replaced the links instead of writing through them.
    EXPECT_EQ(slurp(outside), "host file\n");
    const fs::path t = dir.path / "tree" / "lava-7" / "0" / "tests" / "0_t";
    EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(t / "run.sh")));
    EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(t / "uuid")));
}

TEST(Download, TarEntriesStayInsideWithoutSpecialFilesOrBits) {
    TempDir dir;
    CapturedLog c;
    std::atomic<bool> canceled{false};
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    auto extract = [&](const std::string& name, const std::vector<TarEntry>& entries) {
        const fs::path tar = dir.path / (name + ".tar.gz");
        write_tar(tar, entries);
        try {
            download({"file://" + tar.string(), "gz", "tar", {}, {}}, (dir.path / name).string(), deadline, c.log,
                     canceled);
        } catch (const JobFailure& f) {
            return std::string(f.what());
        }
        return std::string("extracted");
    };
    EXPECT_NE(extract("dotdot", {{"a/../../../escaped", AE_IFREG, "x"}}).find("contains '..'"), std::string::npos);
    EXPECT_FALSE(fs::exists(dir.path / "escaped"));
    EXPECT_NE(extract("hardlink", {{"h", AE_IFREG, "../../../etc/hostname", 0644, true}}).find("hard link"),
              std::string::npos);
    EXPECT_NE(extract("device", {{"dev", AE_IFCHR, ""}}).find("device, FIFO or socket"), std::string::npos);
    EXPECT_NE(extract("fifo", {{"p", AE_IFIFO, ""}}).find("device, FIFO or socket"), std::string::npos);
    // Through a symbolic link the archive itself made: refused by libarchive.
    EXPECT_NE(extract("through-link", {{"l", AE_IFLNK, dir.path.string()}, {"l/written", AE_IFREG, "x"}}), "extracted");
    EXPECT_FALSE(fs::exists(dir.path / "written"));
    // Set-id bits are dropped; the rest of the mode is kept.
    EXPECT_EQ(extract("setuid", {{"tool", AE_IFREG, "#!/bin/sh\n", 06755}, {"dir", AE_IFDIR, "", 01777}}), "extracted");
    ASSERT_TRUE(fs::is_regular_file(dir.path / "setuid" / "setuid.tar" / "tool"));
    const auto perms = fs::status(dir.path / "setuid" / "setuid.tar" / "tool").permissions();
    EXPECT_EQ(perms & (fs::perms::set_uid | fs::perms::set_gid), fs::perms::none);
    EXPECT_NE(perms & fs::perms::owner_exec, fs::perms::none);
    EXPECT_EQ(fs::status(dir.path / "setuid" / "setuid.tar" / "dir").permissions() & fs::perms::sticky_bit,
              fs::perms::none);
    EXPECT_EQ(download_filename("http://h/..", ""), "download");
    EXPECT_EQ(download_filename("http://h/.", ""), "download");
}

TEST(Overlay, EnvironmentFlattening) {
    std::vector<std::pair<std::string, std::string>> out;
    flatten_environment("", yaml("A: 1\nB: true\nC: {D: x, E: [p, q]}\n"), out);
    EXPECT_EQ(out, (std::vector<std::pair<std::string, std::string>>{{"A", "1"}, {"B", "1"}, {"C_D", "x"}, {"C_E_0", "p"}, {"C_E_1", "q"}}));
}

// ------------------------------------------------------------ QEMU command

TEST(Qemu, CommandFromTheRenderedDevice) {
    const auto device = yaml(
        "actions:\n  boot:\n    methods:\n      qemu:\n        parameters:\n          command: qemu-system-x86_64\n"
        "          options: ['-accel tcg', '-m 256', '-net nic,model=virtio -net user']\n"
        "          extra: ['-smp 2']\n");
    const auto cmd = qemu_command(device, "qemu",
                                  {{"kernel", "/tmp/k/vmlinux", "-kernel {kernel} -append \"console=ttyS0 root=/dev/ram0\""},
                                   {"initrd", "/tmp/i/initrd.gz", "-initrd {initrd}"},
                                   {"notes", "/tmp/n/notes.txt", ""}});
    ASSERT_TRUE(cmd.error.empty()) << cmd.error;
    EXPECT_EQ(cmd.argv, (std::vector<std::string>{"qemu-system-x86_64", "-accel", "tcg", "-m", "256", "-net",
                                                   "nic,model=virtio", "-net", "user", "-smp", "2", "-kernel",
                                                   "/tmp/k/vmlinux", "-append", "console=ttyS0 root=/dev/ram0",
                                                   "-initrd", "/tmp/i/initrd.gz"}));
    EXPECT_FALSE(qemu_command(device, "qemu-nfs", {}).error.empty());
    EXPECT_FALSE(qemu_command(yaml("actions: {boot: {methods: {qemu: {parameters: {options: []}}}}}"), "qemu", {}).error.empty());
}

// ------------------------------------------------------------ small helpers

TEST(Command, SplitsLikeAShell) {
    EXPECT_EQ(split_command("a 'b c' \"d \\\"e\\\"\" f\\ g ''"),
              (std::vector<std::string>{"a", "b c", "d \"e\"", "f g", ""}));
    EXPECT_EQ(shell_quote("simple-1.0"), "simple-1.0");
    EXPECT_EQ(shell_quote("it's"), "'it'\"'\"'s'");
    EXPECT_EQ(shell_quote(""), "''");
}

TEST(Download, FileNamesAndRequests) {
    EXPECT_EQ(download_filename("http://h/a/rootfs.img.xz", "xz"), "rootfs.img");
    EXPECT_EQ(download_filename("http://h/a/b.tgz?x=1", "gz"), "b.tar");
    EXPECT_EQ(download_filename("file:///srv/vmlinux", ""), "vmlinux");
    EXPECT_TRUE(check_download_request({"https://h/x", "zstd", "", {{"sha256sum", "ab"}}, {}}).empty());
    EXPECT_NE(check_download_request({"ftp://h/x", "", "", {}, {}}).find("scheme"), std::string::npos);
    EXPECT_NE(check_download_request({"http://h/x", "lzma", "", {}, {}}).find("compression"), std::string::npos);
    EXPECT_NE(check_download_request({"http://h/x", "", "zip", {}, {}}).find("archive"), std::string::npos);
    EXPECT_NE(check_download_request({"http://h/x", "", "", {{"crc32", "1"}}, {}}).find("checksum"), std::string::npos);
}

}  // namespace
}  // namespace lava::worker::run
