#include "common/proto/logline.hpp"

#include "common/yaml/load.hpp"

#include <gtest/gtest.h>

namespace lava::proto {
namespace {

using common::data::Dict;
using common::data::Value;

// Lines as PyYAML's C dumper writes them (LAVA's lava_common.log.dump),
// captured from python3-yaml 6.0 on Debian 12.
const char* const kPyYamlLines[] = {
    R"({"dt": "2023-01-10T10:00:00.123456", "lvl": "target", "msg": "line\nnext\r\x7F\0 \xE9\uFEFF"})",
    R"({"lvl": "results", "msg": {"b": ! "false", "case": "x", "f": ! ".inf", "l": [], "m2": ! "0.1", )"
    R"("measurement": ! "1.0e+17", "n": ! "-3", "result": "pass", "starttc": ! "14", "u": ! "null"}})",
    R"({"lvl": "info", "msg": {}})",
    R"({"lvl": "info", "msg": "  leading and trailing  "})",
    R"({"dt": "2023-01-10T10:00:00", "lvl": "feedback", "msg": "\u2603 \U0001F600 \L\N\_", "ns": "common"})",
};

TEST(LogLine, DumpReproducesPyYamlByteForByte) {
    for (const char* line : kPyYamlLines) {
        auto parsed = common::yaml::load(std::string("- ") + line);
        ASSERT_TRUE(parsed) << line;
        EXPECT_EQ(dump_log_record(parsed->as_list()[0]), line);
    }
}

TEST(LogLine, KeysAreSortedAndNonStringsTagged) {
    const Value record(Dict{{Value("msg"), Value(Dict{{Value("z"), Value(1.5)}, {Value("a"), Value(true)}})},
                            {Value("lvl"), Value("results")},
                            {Value("dt"), Value("t")}});
    EXPECT_EQ(dump_log_record(record), R"({"dt": "t", "lvl": "results", "msg": {"a": ! "true", "z": ! "1.5"}})");
}

TEST(LogLine, InvalidUtf8BecomesReplacementCharacters) {
    EXPECT_EQ(quote_log_string("a\xff" "b"), R"("a\uFFFDb")");
    EXPECT_EQ(quote_log_string("\xe2\x82"), R"("\uFFFD\uFFFD")");
}

TEST(LogLine, ParseBatch) {
    auto lines = parse_log_batch(
        "- {\"dt\": \"1\", \"lvl\": \"info\", \"msg\": \"a\"}\n- {\"lvl\": \"results\", \"msg\": {\"case\": \"c\", "
        "\"starttc\": ! \"14\"}}");
    ASSERT_TRUE(lines) << lines.error().message;
    ASSERT_EQ(lines->size(), 2u);
    EXPECT_EQ((*lines)[0].text, "- {\"dt\": \"1\", \"lvl\": \"info\", \"msg\": \"a\"}");
    EXPECT_EQ((*lines)[1].level(), "results");
    EXPECT_EQ((*lines)[1].record.find("msg")->find("starttc")->as_int(), 14);
    // A trailing newline is not a line.
    EXPECT_EQ(parse_log_batch("- {\"lvl\": \"info\", \"msg\": \"a\"}\n")->size(), 1u);
}

TEST(LogLine, ParseBatchNamesTheBadLine) {
    const std::string good = "- {\"lvl\": \"info\", \"msg\": \"a\"}\n";
    for (const std::string bad : {"{\"lvl\": \"info\", \"msg\": \"a\"}", "- {\"lvl\": \"nosuch\", \"msg\": 1}",
                                  "- {\"msg\": \"no level\"}", "- {\"lvl\": \"info\"}", "- [1, 2]",
                                  "- {\"lvl\": \"info\", \"msg\": \"unterminated}", "- a\n- b"}) {
        auto r = parse_log_batch(good + bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().message.rfind("line 2: ", 0), 0u) << r.error().message;
    }
}

}  // namespace
}  // namespace lava::proto
