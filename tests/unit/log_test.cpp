#include "common/log/log.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace lava::common::log {
namespace {

TEST(Log, JsonRecordEscapesEverything) {
    const auto line = format_json("2026-01-01T00:00:00.000000Z", "info", "db",
                                  "say \"hi\"\n\tback\\slash \x01");
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["msg"], "say \"hi\"\n\tback\\slash \x01");
    EXPECT_EQ(j["logger"], "db");
    EXPECT_EQ(j["level"], "info");
    EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(Log, NamedLoggersWriteJsonLinesToStderrAtTheConfiguredLevel) {
    init({"info", "json"});
    auto a = get("unit");
    EXPECT_EQ(a, get("unit"));
    ::testing::internal::CaptureStderr();
    a->debug("hidden");
    a->info("shown {}", 42);
    a->flush();
    const std::string out = ::testing::internal::GetCapturedStderr();
    ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    const auto j = nlohmann::json::parse(out);
    EXPECT_EQ(j["msg"], "shown 42");
    EXPECT_EQ(j["logger"], "unit");
    EXPECT_EQ(j["level"], "info");
    EXPECT_EQ(j["ts"].get<std::string>().back(), 'Z');
}

TEST(Log, TextFormatAndWarningLevel) {
    init({"warning", "text"});
    auto l = get("text");
    ::testing::internal::CaptureStderr();
    l->info("quiet");
    l->warn("loud");
    l->flush();
    const std::string out = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(out.find("quiet"), std::string::npos);
    EXPECT_NE(out.find("[text] loud"), std::string::npos) << out;
}

}  // namespace
}  // namespace lava::common::log
