#include "common/config/settings.hpp"

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>

namespace lava::common::config {
namespace {

namespace fs = std::filesystem;

struct Settings {
    std::string database;
    int pool_size = 4;
    bool metrics = false;
    std::string level = "info";
};

// A program's settings wired like a daemon's main does it.
class SettingsTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("lava-settings-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
        for (const char* v : {"LAVA_SETTINGS", "LAVA_DATABASE", "LAVA_POOL_SIZE", "LAVA_METRICS",
                              "LAVA_LEVEL"}) {
            ::unsetenv(v);
        }
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::string write(const std::string& name, const std::string& text) {
        const auto path = (dir_ / name).string();
        std::ofstream(path) << text;
        return path;
    }

    // Parses `args` with the default settings file `default_file`; returns the
    // ConfigError message, or "" on success.
    std::unique_ptr<SettingsLoader> make_loader(const std::string& default_file) {
        auto loader = std::make_unique<SettingsLoader>(default_file);
        loader->add("database", &s_.database, "connection string");
        loader->add("pool_size", &s_.pool_size, "pool size", 1, 100);
        loader->add("metrics", &s_.metrics, "expose metrics");
        loader->add_choice("level", &s_.level, "log level", {"debug", "info"});
        return loader;
    }

    static void parse(CLI::App& app, std::vector<std::string> args) {
        args.insert(args.begin(), "prog");
        std::vector<const char*> argv;
        for (const auto& a : args) argv.push_back(a.c_str());
        app.parse(static_cast<int>(argv.size()), argv.data());
    }

    std::string load(std::vector<std::string> args, const std::string& default_file) {
        auto loader = make_loader(default_file);
        CLI::App app("test");
        std::ostringstream printed;
        loader->attach(app, printed);
        parse(app, std::move(args));
        try {
            loader->load();
            read_ = loader->file_read();
        } catch (const ConfigError& e) {
            return e.what();
        }
        return "";
    }

    fs::path dir_;
    Settings s_;
    std::string read_;
};

TEST_F(SettingsTest, MissingDefaultFileMeansDefaults) {
    EXPECT_EQ(load({}, (dir_ / "absent.yaml").string()), "");
    EXPECT_EQ(s_.database, "");
    EXPECT_EQ(s_.pool_size, 4);
    EXPECT_EQ(read_, "");
}

TEST_F(SettingsTest, MissingExplicitFileIsAnError) {
    const auto missing = (dir_ / "nope.yaml").string();
    EXPECT_EQ(load({"--settings", missing}, "/dev/null/x"),
              "settings file '" + missing + "' does not exist");
    ::setenv("LAVA_SETTINGS", missing.c_str(), 1);
    EXPECT_EQ(load({}, "/dev/null/x"), "settings file '" + missing + "' does not exist");
}

TEST_F(SettingsTest, FileValuesApply) {
    const auto f = write("s.yaml", "database: host=/tmp dbname=lava\npool_size: 8\nmetrics: yes\n");
    EXPECT_EQ(load({}, f), "");
    EXPECT_EQ(s_.database, "host=/tmp dbname=lava");
    EXPECT_EQ(s_.pool_size, 8);
    EXPECT_TRUE(s_.metrics);
    EXPECT_EQ(read_, f);
}

TEST_F(SettingsTest, PrecedenceIsFlagThenEnvironmentThenFile) {
    const auto f = write("s.yaml", "pool_size: 8\nlevel: debug\n");
    ::setenv("LAVA_POOL_SIZE", "9", 1);
    EXPECT_EQ(load({}, f), "");
    EXPECT_EQ(s_.pool_size, 9);      // environment beats file
    EXPECT_EQ(s_.level, "debug");    // file beats default
    EXPECT_EQ(load({"--pool-size", "10"}, f), "");
    EXPECT_EQ(s_.pool_size, 10);     // flag beats environment
}

TEST_F(SettingsTest, UnknownKeyIsAnErrorWithItsLine) {
    const auto f = write("s.yaml", "database: x\n\ndatabsae: y\n");
    EXPECT_EQ(load({}, f), f + ":3: unknown setting 'databsae' (known: database, pool_size, "
                               "metrics, level)");
}

TEST_F(SettingsTest, BadValuesNameTheKeyAndLine) {
    auto f = write("a.yaml", "pool_size: 0\n");
    EXPECT_EQ(load({}, f), f + ":1: setting 'pool_size': '0' is not an integer between 1 and 100");
    f = write("b.yaml", "metrics: maybe\n");
    EXPECT_EQ(load({}, f), f + ":1: setting 'metrics': 'maybe' is not a boolean");
    f = write("c.yaml", "level: loud\n");
    EXPECT_EQ(load({}, f), f + ":1: setting 'level': 'loud' is not one of: debug, info");
    f = write("d.yaml", "database: [a, b]\n");
    EXPECT_EQ(load({}, f), f + ":1: setting 'database' must be a single value");
    EXPECT_EQ(load({"--pool-size", "x"}, "/dev/null/x"),
              "--pool-size (or LAVA_POOL_SIZE): 'x' is not an integer between 1 and 100");
}

TEST_F(SettingsTest, InvalidYamlReportsLineAndColumn) {
    const auto f = write("s.yaml", "database: x\npool_size: [1, 2\n");
    const auto msg = load({}, f);
    EXPECT_EQ(msg.rfind(f + ":3:", 0), 0u) << msg;
    EXPECT_NE(msg.find("invalid YAML"), std::string::npos) << msg;
}

TEST_F(SettingsTest, TopLevelMustBeAMapping) {
    const auto f = write("s.yaml", "- a\n- b\n");
    EXPECT_EQ(load({}, f), f + ":1: the settings file must be a mapping of key: value");
}

TEST_F(SettingsTest, TheSampleFileUncommentedReadsBackEveryDefault) {
    s_ = {"host=/run/postgresql dbname=\"lava: #1\" password='x\\y'", 7, true, "debug"};
    const Settings defaults = s_;
    std::string sample = make_loader("/etc/x.yaml")->sample_yaml("prog");
    EXPECT_NE(sample.find("\n# connection string [TEXT]\n#database: "), std::string::npos) << sample;
    EXPECT_NE(sample.find("\n# log level [{debug,info}]\n#level: debug\n"), std::string::npos) << sample;

    // Commented out, the sample changes nothing; uncommented, it sets every default.
    s_ = {"other", 3, false, "info"};
    EXPECT_EQ(load({}, write("commented.yaml", sample)), "");
    EXPECT_EQ(s_.database, "other");
    const auto uncommented = std::regex_replace(sample, std::regex("^#([a-z_]+: )", std::regex::multiline), "$1");
    EXPECT_EQ(load({}, write("uncommented.yaml", uncommented)), "") << uncommented;
    EXPECT_EQ(s_.database, defaults.database);
    EXPECT_EQ(s_.pool_size, 7);
    EXPECT_TRUE(s_.metrics);
    EXPECT_EQ(s_.level, "debug");
}

TEST_F(SettingsTest, PrintSettingsWritesTheReferenceAndEndsTheParse) {
    auto loader = make_loader("/etc/x.yaml");
    CLI::App app("test", "prog");
    app.require_subcommand(1);  // like lava-server: printing needs no subcommand
    app.add_subcommand("serve");
    std::ostringstream printed;
    loader->attach(app, printed);
    try {
        parse(app, {"--print-settings", "markdown"});
        FAIL() << "the parse went on";
    } catch (const CLI::Success&) {
    }
    EXPECT_NE(printed.str().find("## prog\n\nFile: `/etc/x.yaml`"), std::string::npos) << printed.str();
    EXPECT_NE(printed.str().find("| `pool_size` | `4` | INT | pool size |\n"), std::string::npos) << printed.str();
    EXPECT_NE(printed.str().find("| `database` | *(empty)* | TEXT |"), std::string::npos) << printed.str();
    EXPECT_THROW(parse(app, {"--print-settings", "toml"}), CLI::ValidationError);
}

TEST(EnvName, UpperCasesWithPrefix) {
    EXPECT_EQ(env_name("log_level"), "LAVA_LOG_LEVEL");
    EXPECT_EQ(env_name("db-pool"), "LAVA_DB_POOL");
}

}  // namespace
}  // namespace lava::common::config
