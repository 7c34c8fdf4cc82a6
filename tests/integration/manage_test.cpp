// `lava-server manage` against a real PostgreSQL: every subcommand's round
// trip, and every bad input: exit code, the one-line message, and a database
// left exactly as it was.

#include "common/crypto/password.hpp"
#include "integration/pg_fixture.hpp"
#include "server/store/schema.hpp"
#include "server/web/cli.hpp"

#include <nlohmann/json.hpp>

#include <fstream>

namespace lava::test {
namespace {

using nlohmann::json;

class ManageTest : public PgTest {
protected:
    void SetUp() override {
        PgTest::SetUp();
        migrate();
    }

    // Runs a command that must succeed; returns its stdout.
    std::string ok(std::vector<std::string> args) {
        args.insert(args.begin(), "manage");
        auto r = cli(args);
        EXPECT_EQ(r.code, 0) << "stderr: " << r.err;
        EXPECT_EQ(r.err, "");
        return r.out;
    }
    json ok_json(std::vector<std::string> args) {
        args.push_back("--json");
        return json::parse(ok(std::move(args)));
    }

    // Runs a command that must fail with `code` and print exactly `message`
    // (after "lava-server: error: "), changing nothing in the database.
    void fails(std::vector<std::string> args, const std::string& message, int code = 1) {
        const auto before = snapshot();
        args.insert(args.begin(), "manage");
        auto r = cli(args);
        EXPECT_EQ(r.code, code) << "stdout: " << r.out;
        EXPECT_EQ(r.err, "lava-server: error: " + message + "\n");
        EXPECT_EQ(r.out, "");
        EXPECT_EQ(snapshot(), before) << "the failed command changed the database";
    }

    // A usage error (exit 2) whose message contains `needle`; nothing written.
    void usage_error(std::vector<std::string> args, const std::string& needle) {
        const auto before = snapshot();
        args.insert(args.begin(), "manage");
        auto r = cli(args);
        EXPECT_EQ(r.code, 2);
        EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
        EXPECT_EQ(snapshot(), before);
    }

    void lab() {
        ok({"device-types", "add", "qemu"});
        ok({"workers", "add", "w1"});
    }
};

TEST_F(ManageTest, DoneWhenScenario) {
    ok({"device-types", "add", "qemu"});
    const auto token_line = ok({"workers", "add", "w1"});
    ASSERT_EQ(token_line.rfind("Token: ", 0), 0u);
    EXPECT_EQ(token_line.size(), std::string("Token: ").size() + 32 + 1);
    EXPECT_EQ(ok({"devices", "add", "qemu01", "--device-type", "qemu", "--worker", "w1"}), "");
    const auto list = ok({"devices", "list"});
    EXPECT_EQ(list,
              "HOSTNAME  DEVICE TYPE  STATE  HEALTH  WORKER  TAGS  CURRENT JOB\n"
              "qemu01    qemu         Idle   Good    w1            -\n");
}

TEST_F(ManageTest, Users) {
    // Without --passwd a random password is printed, and it is the one stored.
    const auto printed = ok({"users", "add", "alice", "--email", "alice@example.com"});
    ASSERT_FALSE(printed.empty());
    const auto password = printed.substr(0, printed.size() - 1);
    EXPECT_TRUE(common::crypto::check_password(
        password, query("SELECT password FROM users WHERE username = 'alice'")));
    EXPECT_EQ(ok({"users", "add", "root", "--passwd", "pw", "--superuser", "--staff"}), "");
    EXPECT_TRUE(common::crypto::check_password(
        "pw", query("SELECT password FROM users WHERE username = 'root'")));

    auto alice = ok_json({"users", "details", "alice"});
    EXPECT_EQ(alice["email"], "alice@example.com");
    EXPECT_EQ(alice["is_superuser"], false);
    EXPECT_EQ(alice["is_active"], true);

    ok({"groups", "add", "lab-admins"});
    ok({"users", "update", "alice", "--not-active", "--staff", "--group", "lab-admins",
        "--passwd", "new"});
    alice = ok_json({"users", "details", "alice"});
    EXPECT_EQ(alice["is_active"], false);
    EXPECT_EQ(alice["is_staff"], true);
    EXPECT_EQ(alice["groups"], json::array({"lab-admins"}));
    EXPECT_TRUE(common::crypto::check_password(
        "new", query("SELECT password FROM users WHERE username = 'alice'")));

    // Inactive users are listed only with --all.
    auto names = [](const json& arr) {
        std::vector<std::string> out;
        for (const auto& u : arr) out.push_back(u["username"]);
        return out;
    };
    EXPECT_EQ(names(ok_json({"users", "list"})),
              (std::vector<std::string>{"lava-health", "root"}));
    EXPECT_EQ(names(ok_json({"users", "list", "--all"})),
              (std::vector<std::string>{"alice", "lava-health", "root"}));
    EXPECT_NE(ok({"users", "list", "--csv"}).find("username,full_name,email"), std::string::npos);
    auto groups = ok_json({"groups", "list"});
    EXPECT_EQ(groups[0]["members"], json::array({"alice"}));

    fails({"users", "add", "alice"}, "user 'alice' already exists");
    fails({"users", "add", "bad name"},
          "invalid username 'bad name': only letters, digits and @ . + - _ are allowed");
    fails({"users", "update", "nobody", "--staff"}, "unknown user 'nobody'");
    fails({"users", "update", "alice", "--staff", "--group", "nope"}, "unknown group 'nope'");
    fails({"users", "details", "nobody"}, "unknown user 'nobody'");
    fails({"groups", "add", "lab-admins"}, "group 'lab-admins' already exists");
    usage_error({"users", "update", "alice", "--staff", "--not-staff"}, "excludes");
    usage_error({"users", "add"}, "username is required");
}

TEST_F(ManageTest, Tokens) {
    ok({"users", "add", "bob", "--passwd", "x"});
    const auto secret = ok({"tokens", "add", "--user", "bob", "--description", "ci"});
    ASSERT_EQ(secret.size(), 129u);  // 128 characters and a newline
    for (char c : secret.substr(0, 128)) EXPECT_TRUE(std::isdigit(c) || std::islower(c)) << c;
    EXPECT_EQ(ok({"tokens", "add", "-u", "bob", "--secret", "imported-secret"}),
              "imported-secret\n");
    // Listed by prefix only: the secret was shown once (issue 14).
    auto list = ok_json({"tokens", "list", "--user", "bob"});
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0]["prefix"], secret.substr(0, 8));
    EXPECT_FALSE(list[0].contains("secret"));
    EXPECT_EQ(list[0]["description"], "ci");
    EXPECT_TRUE(list[0]["last_used_on"].is_null());
    EXPECT_EQ(list[1]["prefix"], "imported");
    EXPECT_EQ(ok({"tokens", "list", "--user", "bob"}).find(secret.substr(0, 128)), std::string::npos);
    // What the database holds is the SHA-256 of each secret.
    EXPECT_EQ(query("SELECT secret_hash FROM auth_tokens WHERE secret_prefix = 'imported'"),
              common::crypto::sha256_hex("imported-secret"));
    EXPECT_EQ(query("SELECT count(*) FROM auth_tokens WHERE row_to_json(auth_tokens)::text LIKE '%imported-secret%'"),
              "0");

    fails({"tokens", "add", "--user", "bob", "--secret", "imported-secret"},
          "this token secret is already in use");
    fails({"tokens", "add", "--user", "nobody"}, "unknown user 'nobody'");
    fails({"tokens", "list", "--user", "nobody"}, "unknown user 'nobody'");
    fails({"tokens", "rm", "no-such-secret"}, "no token has this secret");
    usage_error({"tokens", "add"}, "--user is required");

    ok({"tokens", "rm", "imported-secret"});
    EXPECT_EQ(ok_json({"tokens", "list", "--user", "bob"}).size(), 1u);
    const auto id = std::to_string(ok_json({"tokens", "list", "--user", "bob"})[0]["id"].get<long long>());
    fails({"tokens", "rm", "--user", "nobody", "--id", id}, "user 'nobody' has no token " + id);
    ok({"tokens", "rm", "--user", "bob", "--id", id});
    EXPECT_EQ(ok_json({"tokens", "list", "--user", "bob"}).size(), 0u);
}

TEST_F(ManageTest, DeviceTypesAndAliases) {
    ok({"device-types", "add", "qemu", "--alias", "kvm", "--health-frequency", "12",
        "--health-denominator", "jobs", "--description", "virtual"});
    auto dt = ok_json({"device-types", "details", "qemu"});
    EXPECT_EQ(dt["health_frequency"], 12);
    EXPECT_EQ(dt["health_denominator"], "jobs");
    EXPECT_EQ(dt["aliases"], json::array({"kvm"}));
    EXPECT_EQ(dt["description"], "virtual");
    EXPECT_EQ(dt["display"], true);

    ok({"device-types", "update", "qemu", "--health-denominator", "hours", "--disable-health-check",
        "--hidden", "--alias", "qemu-x86"});
    dt = ok_json({"device-types", "details", "qemu"});
    EXPECT_EQ(dt["health_denominator"], "hours");
    EXPECT_EQ(dt["health_disabled"], true);
    EXPECT_EQ(dt["display"], false);
    EXPECT_EQ(dt["aliases"], json::array({"kvm", "qemu-x86"}));

    ok({"device-types", "add", "bbb"});
    auto list = ok_json({"device-types", "list"});
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0]["name"], "bbb");

    ok({"aliases", "add", "beaglebone", "bbb"});
    EXPECT_EQ(ok_json({"aliases", "show", "beaglebone"})["device_type"], "bbb");
    EXPECT_EQ(ok_json({"aliases", "list"}).size(), 3u);
    ok({"aliases", "remove", "beaglebone"});
    EXPECT_EQ(ok_json({"aliases", "list"}).size(), 2u);

    fails({"device-types", "add", "qemu"}, "device-type 'qemu' already exists");
    fails({"device-types", "add", "x", "--health-denominator", "weeks"},
          "invalid health denominator 'weeks': expected one of HOURS, JOBS");
    fails({"device-types", "add", "x", "--health-frequency", "-1"},
          "invalid health frequency -1: must be >= 0");
    fails({"device-types", "add", "a/b"},
          "invalid device-type name 'a/b': only letters, digits, '-', '_' and '.' are allowed");
    // The alias is taken: the new type is not created either.
    fails({"device-types", "add", "other", "--alias", "kvm"}, "alias 'kvm' already exists");
    fails({"device-types", "update", "nope", "--description", "x"}, "unknown device-type 'nope'");
    fails({"device-types", "details", "nope"}, "unknown device-type 'nope'");
    fails({"aliases", "add", "x", "nope"}, "unknown device-type 'nope'");
    fails({"aliases", "show", "nope"}, "unknown alias 'nope'");
    fails({"aliases", "remove", "nope"}, "unknown alias 'nope'");
    usage_error({"device-types", "update", "qemu", "--display", "--hidden"}, "excludes");
}

TEST_F(ManageTest, Workers) {
    const auto line = ok({"workers", "add", "w1", "--description", "rack 1", "--job-limit", "2"});
    const auto token = line.substr(7, 32);
    auto w = ok_json({"workers", "details", "w1"});
    EXPECT_EQ(w["token"], token);
    EXPECT_EQ(w["state"], "Offline");
    EXPECT_EQ(w["health"], "Active");
    EXPECT_EQ(w["job_limit"], 2);
    EXPECT_EQ(w["description"], "rack 1");

    ok({"workers", "add", "w2", "--health", "maintenance"});
    ok({"workers", "update", "w2", "--health", "RETIRED", "--description", "gone",
        "--reason", "decommissioned"});
    auto visible = ok_json({"workers", "list"});
    ASSERT_EQ(visible.size(), 1u);
    EXPECT_EQ(visible[0]["hostname"], "w1");
    EXPECT_EQ(ok_json({"workers", "list", "--all"}).size(), 2u);
    EXPECT_EQ(query("SELECT reason FROM worker_state_changes WHERE worker = 'w2' ORDER BY id DESC "
                    "LIMIT 1"),
              "Maintenance → Retired (decommissioned)");
    EXPECT_EQ(query("SELECT actor FROM worker_state_changes WHERE worker = 'w2' LIMIT 1")
                  .rfind("manage:", 0),
              0u);

    fails({"workers", "add", "w1"}, "worker 'w1' already exists");
    fails({"workers", "add", "w3", "--health", "sleepy"},
          "invalid worker health 'sleepy': expected one of ACTIVE, MAINTENANCE, RETIRED");
    fails({"workers", "add", "w 3"},
          "invalid worker hostname 'w 3': only letters, digits, '-', '_' and '.' are allowed");
    fails({"workers", "add", "w3", "--job-limit", "-1"}, "invalid job limit -1: must be >= 0");
    fails({"workers", "update", "nope", "--health", "ACTIVE"}, "unknown worker 'nope'");
    fails({"workers", "update", "w1", "--health", "bogus"},
          "invalid worker health 'bogus': expected one of ACTIVE, MAINTENANCE, RETIRED");
    fails({"workers", "details", "nope"}, "unknown worker 'nope'");
}

TEST_F(ManageTest, Devices) {
    lab();
    ok({"workers", "add", "w2"});
    ok({"users", "add", "carol", "--passwd", "x"});
    ok({"groups", "add", "team"});
    ok({"devices", "add", "qemu01", "--device-type", "qemu", "--worker", "w1", "--tags", "kvm",
        "fast", "--description", "first", "--physical-user", "carol", "--group", "team"});
    ok({"devices", "add", "qemu02", "--device-type", "qemu", "--worker", "w1", "--offline"});
    auto d = ok_json({"devices", "details", "qemu01"});
    EXPECT_EQ(d["health"], "Good");
    EXPECT_EQ(d["state"], "Idle");
    EXPECT_EQ(d["tags"], json::array({"fast", "kvm"}));
    EXPECT_EQ(d["physical_owner"], "carol");
    EXPECT_EQ(d["group"], "team");
    EXPECT_TRUE(d["owner"].is_null());
    EXPECT_EQ(ok_json({"devices", "details", "qemu02"})["health"], "Maintenance");
    EXPECT_EQ(ok_json({"tags", "list"}).size(), 2u);  // created on the fly, as LAVA does

    ok({"devices", "update", "qemu01", "--health", "bad", "--reason", "serial dead", "--worker",
        "w2", "--tags", "fast", "--owner", "carol", "--description", "moved"});
    d = ok_json({"devices", "details", "qemu01"});
    EXPECT_EQ(d["health"], "Bad");
    EXPECT_EQ(d["worker"], "w2");
    EXPECT_EQ(d["tags"], json::array({"fast"}));
    EXPECT_EQ(d["owner"], "carol");
    EXPECT_TRUE(d["group"].is_null());  // owner and group exclude each other
    EXPECT_EQ(d["description"], "moved");
    ok({"devices", "update", "qemu01", "--tags"});
    EXPECT_EQ(ok_json({"devices", "details", "qemu01"})["tags"], json::array());

    auto history = ok_json({"devices", "details", "qemu01", "--history"});
    ASSERT_EQ(history.size(), 2u);
    EXPECT_EQ(history[0]["reason"], "created");
    EXPECT_EQ(history[1]["health"], "Bad");
    EXPECT_EQ(history[1]["reason"], "Good → Bad (serial dead)");

    ok({"devices", "update", "qemu02", "--health", "RETIRED"});
    EXPECT_EQ(ok_json({"devices", "list"}).size(), 1u);
    EXPECT_EQ(ok_json({"devices", "list", "--all"}).size(), 2u);
    EXPECT_EQ(ok_json({"devices", "list", "--health", "retired"}).size(), 1u);
    EXPECT_EQ(ok_json({"devices", "list", "--state", "IDLE"}).size(), 1u);
    EXPECT_EQ(ok_json({"devices", "list", "--state", "RUNNING"}).size(), 0u);
    // Details with their devices: qemu01 moved to w2, qemu02 (retired) is on w1.
    EXPECT_EQ(ok_json({"workers", "details", "w1", "--devices"})["device_list"],
              json::array({"qemu02"}));
    EXPECT_EQ(ok_json({"workers", "details", "w2", "--devices"})["device_list"],
              json::array({"qemu01"}));
    EXPECT_EQ(ok_json({"device-types", "details", "qemu", "--devices"})["device_list"],
              json::array({"qemu01", "qemu02"}));

    fails({"devices", "add", "qemu01", "--device-type", "qemu", "--worker", "w1"},
          "device 'qemu01' already exists");
    fails({"devices", "add", "qemu03", "--device-type", "nope", "--worker", "w1"},
          "unknown device-type 'nope'");
    fails({"devices", "add", "qemu03", "--device-type", "qemu", "--worker", "nope"},
          "unknown worker 'nope'");
    fails({"devices", "add", "qemu03", "--device-type", "qemu", "--worker", "w1", "--owner",
           "nobody", "--tags", "new-tag"},
          "unknown user 'nobody'");
    fails({"devices", "add", "qemu03", "--device-type", "qemu", "--worker", "w1", "--tags",
           "bad tag"},
          "invalid tag name 'bad tag': only letters, digits, '-', '_' and '.' are allowed");
    fails({"devices", "update", "qemu01", "--health", "sick"},
          "invalid device health 'sick': expected one of GOOD, UNKNOWN, LOOPING, BAD, "
          "MAINTENANCE, RETIRED");
    fails({"devices", "update", "qemu01", "--health", "GOOD", "--worker", "nope"},
          "unknown worker 'nope'");
    fails({"devices", "update", "qemu01", "--device-type", "nope"}, "unknown device-type 'nope'");
    fails({"devices", "update", "nope", "--health", "GOOD"}, "unknown device 'nope'");
    fails({"devices", "list", "--state", "sleeping"},
          "invalid device state 'sleeping': expected one of IDLE, RESERVED, RUNNING");
    fails({"devices", "details", "nope"}, "unknown device 'nope'");
    usage_error({"devices", "add", "qemu09", "--worker", "w1"}, "--device-type is required");
    usage_error({"devices", "add", "qemu09", "--device-type", "qemu", "--worker", "w1", "--owner",
                 "carol", "--group", "team"},
                "excludes");
}

TEST_F(ManageTest, TagsAndDeviceTags) {
    lab();
    ok({"tags", "add", "usb", "--description", "has USB"});
    ok({"device-tags", "create", "hdmi", "has HDMI"});
    auto tags = ok_json({"tags", "list"});
    ASSERT_EQ(tags.size(), 2u);
    EXPECT_EQ(tags[1]["name"], "usb");
    EXPECT_EQ(tags[1]["description"], "has USB");
    EXPECT_EQ(ok_json({"device-tags", "list"}), tags);

    ok({"devices", "add", "d1", "--device-type", "qemu", "--worker", "w1"});
    ok({"device-tags", "add", "d1", "--tags", "usb", "hdmi"});
    auto shown = ok_json({"device-tags", "show", "d1"});
    ASSERT_EQ(shown.size(), 2u);
    EXPECT_EQ(shown[0]["name"], "hdmi");
    ok({"device-tags", "remove", "d1", "--tags", "hdmi"});
    EXPECT_EQ(ok_json({"device-tags", "show", "d1"}).size(), 1u);

    fails({"tags", "add", "usb"}, "tag 'usb' already exists");
    fails({"tags", "add", "no spaces"},
          "invalid tag name 'no spaces': only letters, digits, '-', '_' and '.' are allowed");
    fails({"device-tags", "add", "d1", "--tags", "usb", "nope"}, "unknown tag 'nope'");
    fails({"device-tags", "add", "nope", "--tags", "usb"}, "unknown device 'nope'");
    fails({"device-tags", "remove", "d1", "--tags", "hdmi"},
          "device 'd1' does not have tag 'hdmi'");
}

TEST_F(ManageTest, Status) {
    lab();
    ok({"devices", "add", "d1", "--device-type", "qemu", "--worker", "w1"});
    auto s = ok_json({"status"});
    EXPECT_EQ(s["schema_version"], server::store::schema_version());
    EXPECT_EQ(s["workers"], 1);
    EXPECT_EQ(s["devices"], 1);
    EXPECT_EQ(s["devices_health"], "Good 1, Unknown 0, Looping 0, Bad 0, Maintenance 0, Retired 0");
    EXPECT_EQ(s["jobs"], 0);
    EXPECT_NE(ok({"status"}).find("schema_version : " + std::to_string(server::store::schema_version())),
              std::string::npos);
}

TEST_F(ManageTest, SettingsFileAndErrors) {
    const std::string path = ::testing::TempDir() + "lava-settings-" + db_name_ + ".yaml";
    std::ofstream(path) << "database: \"" << conninfo() << "\"\nlog_level: debug\n";
    std::ostringstream out, err;
    // The database comes from the file alone.
    int code = server::web::run_cli({"lava-server", "--settings", path, "manage", "workers", "list"},
                                   out, err);
    EXPECT_EQ(code, 0) << err.str();
    std::ofstream(path) << "database: x\nlog_levle: debug\n";
    code = server::web::run_cli({"lava-server", "--settings", path, "manage", "status"}, out, err);
    EXPECT_EQ(code, 2);
    EXPECT_NE(err.str().find(path + ":2: unknown setting 'log_levle'"), std::string::npos)
        << err.str();
    std::remove(path.c_str());

    auto r = cli({"manage", "devices", "frobnicate"});
    EXPECT_EQ(r.code, 2);
    r = cli({"manage"});
    EXPECT_EQ(r.code, 2);
    r = cli({"manage", "--help"});
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.out.find("device-types"), std::string::npos);
}

TEST_F(ManageTest, UnreachableDatabaseIsOneLine) {
    std::ostringstream out, err;
    const int code = server::web::run_cli(
        {"lava-server", "--database", "host=/nonexistent-dir dbname=x", "manage", "status"}, out,
        err);
    EXPECT_EQ(code, 1);
    const std::string text = err.str();
    EXPECT_EQ(text.rfind("lava-server: error: cannot connect to PostgreSQL: ", 0), 0u) << text;
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
}

}  // namespace
}  // namespace lava::test
