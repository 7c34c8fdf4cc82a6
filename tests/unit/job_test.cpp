// One valid and one invalid example per job-schema rule, with the exact
// message and position a user sees.

#include "common/job/model.hpp"
#include "common/job/multinode.hpp"
#include "common/job/testdef.hpp"
#include "common/job/validate.hpp"
#include "common/yaml/load.hpp"

#include <gtest/gtest.h>

namespace lava::common::job {
namespace {

using data::Value;

const char* kHead =
    "job_name: t\n"
    "device_type: qemu\n"
    "visibility: public\n"
    "timeouts:\n"
    "  job: {minutes: 10}\n";

std::vector<std::string> issues_of(const std::string& text, Strictness mode = Strictness::kStrict) {
    std::vector<std::string> out;
    for (const auto& i : JobValidator(mode).check_yaml(text).issues) out.push_back(i.to_string());
    return out;
}

std::vector<std::string> with_actions(const std::string& actions, Strictness mode = Strictness::kStrict) {
    return issues_of(std::string(kHead) + "actions:\n" + actions, mode);
}

using Lines = std::vector<std::string>;

TEST(JobValidator, MinimalJobIsValid) { EXPECT_EQ(issues_of(std::string(kHead) + "actions: []\n"), Lines{}); }

TEST(JobValidator, RequiredTopLevelKeys) {
    EXPECT_EQ(issues_of("device_type: qemu\nactions: []\n"),
              (Lines{"job_name: required key not provided (line 1, column 1)",
                     "timeouts: required key not provided (line 1, column 1)",
                     "visibility: required key not provided (line 1, column 1)"}));
}

TEST(JobValidator, JobNameLength) {
    EXPECT_EQ(issues_of(std::string(kHead) + "actions: []\n" + "job_name: ''\n"),
              Lines{"job_name: must not be empty (line 7, column 11)"});
}

TEST(JobValidator, Priority) {
    EXPECT_EQ(issues_of(std::string(kHead) + "priority: high\nactions: []\n"), Lines{});
    EXPECT_EQ(issues_of(std::string(kHead) + "priority: 100\nactions: []\n"), Lines{});
    EXPECT_EQ(issues_of(std::string(kHead) + "priority: 101\nactions: []\n"),
              Lines{"priority: expected 'high' or 'medium' or 'low' or a number from 0 to 100, "
                    "got int 101 (line 6, column 11)"});
}

TEST(JobValidator, TimeoutsOneUnitAndNotLongerThanTheJob) {
    EXPECT_EQ(issues_of(std::string(kHead) + "actions:\n- deploy: {to: overlay, timeout: {hours: 1}}\n"),
              Lines{"actions[0].deploy.timeout: Action timeout is larger than job timeout (line 7, column 34)"});
    EXPECT_EQ(issues_of("job_name: t\ndevice_type: qemu\nvisibility: public\n"
                        "timeouts: {job: {minutes: 0}}\nactions: []\n"),
              Lines{"timeouts.job.minutes: value must be at least 1, got 0 (line 4, column 27)"});
}

TEST(JobValidator, ContextAllowsOnlyKnownVariables) {
    EXPECT_EQ(issues_of(std::string(kHead) + "context: {arch: arm64, extra_options: [-smp, 2]}\nactions: []\n"),
              Lines{});
    auto lines = issues_of(std::string(kHead) + "context: {colour: red}\nactions: []\n");
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].rfind("context.colour: unknown context variable; known: arch, ", 0), 0u) << lines[0];
    // Unknown context variables are rejected in lenient mode too; extra
    // context variables can be allowed.
    EXPECT_EQ(issues_of(std::string(kHead) + "context: {colour: red}\nactions: []\n", Strictness::kLenient).size(), 1u);
    EXPECT_TRUE(JobValidator(Strictness::kStrict, {"colour"})
                    .check_yaml(std::string(kHead) + "context: {colour: red}\nactions: []\n")
                    .ok());
}

TEST(JobValidator, StrictRejectsUnknownKeysLenientDoesNot) {
    const std::string job = std::string(kHead) + "colour: red\nactions: []\n";
    EXPECT_EQ(issues_of(job), Lines{"colour: extra keys not allowed (line 6, column 1)"});
    EXPECT_EQ(issues_of(job, Strictness::kLenient), Lines{});
}

TEST(JobValidator, UnknownMethodsNameTheKnownOnes) {
    auto lines = with_actions("- deploy: {to: floppy}\n- boot: {method: pxe}\n");
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0].rfind("actions[0].deploy.to: unknown deploy method 'floppy'; known: docker, download, ", 0), 0u)
        << lines[0];
    EXPECT_NE(lines[0].find("tmpfs"), std::string::npos);
    EXPECT_EQ(lines[1].rfind("actions[1].boot.method: unknown boot method 'pxe'; known: barebox, ", 0), 0u)
        << lines[1];
}

TEST(JobValidator, DeployTmpfs) {
    EXPECT_EQ(with_actions("- deploy: {to: tmpfs, images: {rootfs: {url: http://x/r.img, compression: gz}}}\n"),
              Lines{});
    EXPECT_EQ(with_actions("- deploy: {to: tmpfs, images: {rootfs: {url: http://x/r.img, compression: lz4}}}\n"),
              Lines{"actions[0].deploy.images.rootfs.compression: expected 'bz2' or 'gz' or 'xz' or 'zip' or "
                    "'zstd' or None, got 'lz4' (line 7, column 75)"});
}

TEST(JobValidator, BootQemu) {
    EXPECT_EQ(with_actions("- boot: {method: qemu, media: tmpfs, prompts: ['# ']}\n"), Lines{});
    EXPECT_EQ(with_actions("- boot: {method: qemu, prompts: ['']}\n"),
              Lines{"actions[0].boot.prompts[0]: must not be empty (line 7, column 34)"});
}

TEST(JobValidator, TestDefinitions) {
    EXPECT_EQ(with_actions("- test:\n    definitions:\n    - {from: git, repository: r, path: p, name: smoke}\n"),
              Lines{});
    EXPECT_EQ(with_actions("- test:\n    definitions:\n    - from: git\n      repository: r\n      path: p\n"
                           "      name: smoke test\n"),
              Lines{"actions[0].test.definitions[0].name: does not match ^[-_a-zA-Z0-9.]+$ (line 12, column 13)"});
}

// Issue 14: names and paths that lava-run joins to its directories stay
// inside them, in both modes, with the field and the line named.
TEST(JobValidator, PathsFromTheJobStayInsideItsDirectories) {
    const std::string actions =
        "- deploy: {to: tmpfs, images: {../kernel: {url: http://x/k}, ok: {url: http://x/o}}}\n"
        "- test:\n    definitions:\n"
        "    - {from: git, repository: r, name: a, path: ../../../etc/cron.d/x}\n"
        "    - {from: git, repository: r, name: b, path: /etc/shadow, revision: --upload-pack=x}\n"
        "    - {from: git, repository: r, name: c, path: \"a\\0b\", branch: -x}\n"
        "    - {from: git, repository: r, name: d, path: sub/dir/ok.yaml, revision: v1.0}\n";
    const Lines expected = {
        "actions[0].deploy.images.../kernel: the image name contains '..': it must stay inside its directory "
        "(line 7, column 32)",
        "actions[1].test.definitions[0].path: the path contains '..': it must stay inside its directory "
        "(line 10, column 49)",
        "actions[1].test.definitions[1].path: the path is an absolute path: it must be relative to its directory "
        "(line 11, column 49)",
        "actions[1].test.definitions[1].revision: a git revision may not start with '-' (line 11, column 72)",
        "actions[1].test.definitions[2].path: the path contains a NUL byte (line 12, column 49)",
        "actions[1].test.definitions[2].branch: a git branch may not start with '-' (line 12, column 65)",
    };
    for (auto mode : {Strictness::kStrict, Strictness::kLenient}) EXPECT_EQ(with_actions(actions, mode), expected);
}

TEST(JobValidator, TestWithoutKind) {
    EXPECT_EQ(with_actions("- test: {timeout: {minutes: 1}}\n"),
              Lines{"actions[0].test: a test action needs one of 'definitions', 'interactive' or "
                    "'monitors' (line 7, column 9)"});
}

TEST(JobValidator, ActionItemsHaveOneKey) {
    EXPECT_EQ(with_actions("- deploy: {to: overlay}\n  boot: {method: minimal}\n"),
              Lines{"actions[0]: an action item must have exactly one key, found: deploy, boot "
                    "(is a '-' missing before the second action?) (line 8, column 3)"});
}

TEST(JobValidator, NamespacesAllOrNone) {
    EXPECT_EQ(with_actions("- deploy: {to: overlay, namespace: a}\n- boot: {method: minimal}\n"),
              Lines{"actions: When using namespaces, every action should have a namespace (line 7, column 1)"});
}

TEST(JobValidator, MultinodeRules) {
    const std::string mn =
        "job_name: t\nvisibility: public\ntimeouts: {job: {minutes: 10}}\n"
        "protocols:\n  lava-multinode:\n    roles:\n      server: {device_type: qemu, count: 1}\n"
        "actions:\n- deploy: {to: overlay, role: [server]}\n";
    EXPECT_EQ(issues_of(mn), Lines{});
    EXPECT_EQ(issues_of(mn + "- boot: {method: minimal}\n"),
              Lines{"actions[1].boot.role: Every action of a multinode job should have roles (line 10, column 9)"});
    EXPECT_EQ(issues_of("device_type: qemu\n" + mn),
              Lines{"device_type: \"device_type\" should not be used with multinode (line 1, column 14)"});
    EXPECT_EQ(issues_of("job_name: t\nvisibility: public\ntimeouts: {job: {minutes: 10}}\nactions: []\n"),
              Lines{"device_type: \"device_type\" or multinode should be defined (line 1, column 1)"});
}

TEST(JobValidator, YamlSyntaxErrorsHaveAPosition) {
    auto lines = issues_of("job_name: t\nactions: [\n");
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].rfind("invalid YAML: ", 0), 0u);
    EXPECT_NE(lines[0].find("(line "), std::string::npos);
    EXPECT_EQ(issues_of("- a\n- b\n"), Lines{"a job definition must be a mapping of keys to values (line 1, column 1)"});
}

TEST(Testdef, SchemaAndParsePattern) {
    const std::string good =
        "metadata: {format: Lava-Test Test Definition 1.0, name: t}\n"
        "parse: {pattern: '(?P<test_case_id>\\S+): (?P<result>\\w+)', fixupdict: {PASS: pass}}\n"
        "run: {steps: [./run.sh]}\nextra: allowed in a file\n";
    EXPECT_TRUE(check_testdef_yaml(good).ok());
    auto bad = check_testdef_yaml("metadata: {format: Lava-Test Test Definition 1.0}\nparse: {pattern: '(?P<x>'}\n");
    std::vector<std::string> lines;
    for (const auto& i : bad.issues) lines.push_back(i.to_string());
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0], "metadata.name: required key not provided (line 1, column 11)");
    EXPECT_EQ(lines[1].rfind("parse.pattern: invalid regular expression at offset", 0), 0u) << lines[1];
    EXPECT_EQ(check_parse_pattern("(?P<test_case_id>\\S+)").value_or(""),
              "the pattern has no named group result ((?P<name>...))");
    EXPECT_FALSE(check_parse_pattern("(?P<test_case_id>a)(?P<result>b)(?P<measurement>c)"));
}

TEST(Multinode, SplitsIntoOneDefinitionPerRoleInstance) {
    auto doc = yaml::load(
        "job_name: mn\nvisibility: public\npriority: high\ntimeouts: {job: {minutes: 10}}\n"
        "protocols:\n  lava-multinode:\n    timeout: {minutes: 5}\n    roles:\n"
        "      server: {device_type: qemu, count: 1, context: {arch: amd64}, tags: [big], essential: true}\n"
        "      client: {device_type: bbb, count: 2}\n"
        "actions:\n- deploy: {to: overlay, role: [server, client]}\n- boot: {method: minimal, role: [client]}\n");
    ASSERT_TRUE(doc);
    auto jobs = split_multinode(*doc, "group-uuid");
    ASSERT_TRUE(jobs) << jobs.error().message;
    ASSERT_EQ(jobs->size(), 3u);
    const Value& server = (*jobs)[0].definition;
    EXPECT_EQ((*jobs)[0].role, "server");
    EXPECT_EQ(*server.find("device_type"), Value("qemu"));
    EXPECT_EQ(*server.find("context")->find("arch"), Value("amd64"));
    EXPECT_EQ(*server.find("priority"), Value("high"));
    const Value& params = *server.find("protocols")->find("lava-multinode");
    EXPECT_EQ(*params.find("target_group"), Value("group-uuid"));
    EXPECT_EQ(*params.find("role"), Value("server"));
    EXPECT_EQ(*params.find("group_size"), Value(3));
    EXPECT_EQ(*params.find("sub_id"), Value(0));
    EXPECT_EQ(*params.find("tags"), Value(data::List{Value("big")}));
    EXPECT_EQ(*params.find("essential"), Value(true));
    EXPECT_EQ(*params.find("timeout")->find("minutes"), Value(5));
    ASSERT_EQ(server.find("actions")->as_list().size(), 1u);
    EXPECT_EQ(*server.find("actions")->as_list()[0].find("deploy")->find("role"), Value("server"));
    EXPECT_EQ((*jobs)[2].sub_id, 2);
    EXPECT_EQ((*jobs)[2].definition.find("actions")->as_list().size(), 2u);
    EXPECT_EQ(*(*jobs)[1].definition.find("device_type"), Value("bbb"));
}

TEST(Multinode, HostRoleMustHaveCountOne) {
    auto doc = yaml::load(
        "job_name: mn\nvisibility: public\ntimeouts: {job: {minutes: 10}}\nprotocols:\n  lava-multinode:\n"
        "    roles:\n      host: {device_type: qemu, count: 2}\n"
        "      guest: {connection: ssh, count: 1, expect_role: host, host_role: host}\n"
        "actions:\n- deploy: {to: overlay, role: [host, guest]}\n");
    ASSERT_TRUE(doc);
    auto jobs = split_multinode(*doc, "g");
    ASSERT_FALSE(jobs);
    EXPECT_EQ(jobs.error().message, "The count for a role designated as a host_role must be 1.");
}

TEST(Model, ReadsTheTypedView) {
    auto doc = yaml::load(std::string(kHead) +
                          "  queue: {hours: 1}\npriority: low\nvisibility: {group: [lab]}\ntags: [a]\n"
                          "actions:\n- deploy: {to: tmpfs, images: {r: {url: x}}, namespace: t}\n"
                          "- test: {definitions: []}\n");
    ASSERT_TRUE(doc) << doc.error().message;
    const auto j = read_job(*doc);
    EXPECT_EQ(j.name, "t");
    EXPECT_EQ(j.priority, 0);
    EXPECT_EQ(j.visibility.kind, Visibility::Kind::kGroup);
    EXPECT_EQ(j.visibility.groups, std::vector<std::string>{"lab"});
    EXPECT_EQ(j.job_timeout, std::chrono::seconds(600));
    EXPECT_EQ(j.queue_timeout, std::chrono::seconds(3600));
    ASSERT_EQ(j.actions.size(), 2u);
    EXPECT_EQ(j.actions[0].method, "tmpfs");
    EXPECT_EQ(j.actions[0].namespace_name, "t");
    EXPECT_EQ(j.actions[1].method, "definitions");
    EXPECT_FALSE(j.is_multinode());
}

}  // namespace
}  // namespace lava::common::job
