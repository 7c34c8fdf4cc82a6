#include "server/manage/table.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

namespace lava::server::manage {
namespace {

Table sample() {
    return Table{{"hostname", "device_type", "tags", "current_job"},
                 {{std::string("qemu01"), std::string("qemu"),
                   std::vector<std::string>{"a", "b"}, nullptr},
                  {std::string("board-with-long-name"), std::string("x, \"y\""),
                   std::vector<std::string>{}, std::int64_t{42}}}};
}

TEST(Table, TextIsAlignedWithHeaders) {
    std::ostringstream out;
    print(out, sample(), Format::kText);
    EXPECT_EQ(out.str(),
              "HOSTNAME              DEVICE TYPE  TAGS  CURRENT JOB\n"
              "qemu01                qemu         a,b   -\n"
              "board-with-long-name  x, \"y\"             42\n");
}

TEST(Table, CsvQuotesAndLeavesNullsEmpty) {
    std::ostringstream out;
    print(out, sample(), Format::kCsv);
    EXPECT_EQ(out.str(),
              "hostname,device_type,tags,current_job\n"
              "qemu01,qemu,\"a,b\",\n"
              "board-with-long-name,\"x, \"\"y\"\"\",,42\n");
}

TEST(Table, JsonKeepsTypes) {
    std::ostringstream out;
    print(out, sample(), Format::kJson);
    const auto j = nlohmann::json::parse(out.str());
    ASSERT_EQ(j.size(), 2u);
    EXPECT_EQ(j[0]["tags"], nlohmann::json::array({"a", "b"}));
    EXPECT_TRUE(j[0]["current_job"].is_null());
    EXPECT_EQ(j[1]["current_job"], 42);
}

TEST(Record, TextAlignsKeys) {
    std::ostringstream out;
    print(out, Record{{"hostname", std::string("w1")}, {"job_limit", std::int64_t{0}},
                      {"on", true}},
          Format::kText);
    EXPECT_EQ(out.str(), "hostname  : w1\njob_limit : 0\non        : yes\n");
}

}  // namespace
}  // namespace lava::server::manage
