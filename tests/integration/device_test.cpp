// DeviceConfig against files in LAVA's layout: the template a dictionary
// extends names its health check; search order; edited dictionaries.

#include "common/device/device.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace lava::common::device {
namespace {

namespace fs = std::filesystem;

class DeviceTest : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::temp_directory_path() /
                ("lava-device-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
        for (const char* d : {"devices", "device-types", "health-checks", "extra"}) {
            fs::create_directories(root_ / d);
        }
    }
    void TearDown() override { fs::remove_all(root_); }
    void write(const fs::path& rel, const std::string& text) { std::ofstream(root_ / rel) << text; }
    DeviceConfig config() { return DeviceConfig(Paths{root_.string(), {(root_ / "extra").string()}}); }

    fs::path root_;
};

constexpr const char* kMinimalType =
    "constants: {}\nparameters: {}\nactions: {deploy: {methods: {}}, boot: {connections: {}, methods: "
    "{}}}\ntimeouts: {actions: {}, connections: {}}\nname: {{ name | default('none') }}\n"
    "origin: {{ origin }}\n";

TEST_F(DeviceTest, HealthCheckIsNamedByTheExtendedTemplate) {
    write("device-types/board.jinja2", kMinimalType);
    write("devices/b1.jinja2", "{# comment #}\n{%- extends \"board.jinja2\" -%}\n");
    write("health-checks/board.yaml", "job_name: health\n");
    const auto c = config();
    EXPECT_EQ(*c.template_name("b1"), "board");
    EXPECT_EQ(*c.health_check("b1"), "job_name: health\n");
    fs::remove(root_ / "health-checks/board.yaml");
    write("health-checks/board.yml", "job_name: yml\n");
    EXPECT_EQ(*c.health_check("b1"), "job_name: yml\n");
    fs::remove(root_ / "health-checks/board.yml");
    auto none = c.health_check("b1");
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code, errc::kNotFound);
    EXPECT_EQ(none.error().message, "no health check for device type template 'board'");
}

TEST_F(DeviceTest, SearchOrderAndEditedFiles) {
    write("extra/board.jinja2", "{% set origin = 'extra' %}" + std::string(kMinimalType));
    write("devices/b1.jinja2", "{% extends 'board.jinja2' %}");
    const auto c = config();
    EXPECT_EQ(*c.render("b1", {})->find("origin"), data::Value("extra"));
    // device-types/ wins over further directories; a new file is picked up.
    write("device-types/board.jinja2", "{% set origin = 'primary' %}" + std::string(kMinimalType));
    EXPECT_EQ(*c.render("b1", {})->find("origin"), data::Value("primary"));
    // An edited dictionary is re-read; its sets win over the job context.
    write("devices/b1.jinja2", "{% extends 'board.jinja2' %}{% set name = 'dictionary' %}");
    fs::last_write_time(root_ / "devices/b1.jinja2", fs::file_time_type::clock::now() + std::chrono::seconds(5));
    EXPECT_EQ(*c.render("b1", {{data::Value("name"), data::Value("context")}})->find("name"),
              data::Value("dictionary"));
}

TEST_F(DeviceTest, BadHostnamesAndMissingDictionaries) {
    const auto c = config();
    EXPECT_FALSE(c.has_dictionary("../etc/passwd"));
    auto bad = c.render_text("../x", {});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message, "invalid device hostname '../x'");
    auto missing = c.template_name("ghost");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, errc::kNotFound);
    write("devices/flat.jinja2", "no extends here\n");
    EXPECT_EQ(c.template_name("flat").error().message,
              "device 'flat': the device dictionary extends no template");
}

}  // namespace
}  // namespace lava::common::device
