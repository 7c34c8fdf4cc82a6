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

// libyaml's emitter writes a key of more than 128 bytes, or with a line
// break, as an explicit key; its reader refuses a simple key longer than 1024
// characters, which an escaped key reaches (found by tools/fuzz logline).
TEST(LogLine, LongAndMultilineKeysAreExplicitAsLibyamlWritesThem) {
    std::string e65;
    for (int i = 0; i < 65; ++i) e65 += "\\xE9";
    const std::string line = R"({"lvl": "results", "msg": {? "a\Lb" : "explicit", ")" + std::string(128, 'k') +
                             R"(": "simple", ? ")" + std::string(129, 'k') + R"(" : "explicit", "x": {? ")" +
                             std::string(129, 'y') + R"(" : ! "1"}, ? ")" + e65 + R"(" : "explicit"}})";
    auto parsed = common::yaml::load("- " + line);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(dump_log_record(parsed->as_list()[0]), line);

    std::string escaped;
    for (int i = 0; i < 200; ++i) escaped += "\xF0\x9F\x98\x80";
    const std::string dumped =
        dump_log_record(Value(Dict{{Value("lvl"), Value("info")}, {Value("msg"), Value(Dict{{Value(escaped), Value("v")}})}}));
    auto again = parse_log_batch("- " + dumped);
    ASSERT_TRUE(again) << again.error().message;
    ASSERT_EQ(again->size(), 1u);
    EXPECT_EQ(dump_log_record((*again)[0].record), dumped);
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

TEST(LogLine, RecordsWhereNeeded) {
    auto lines = parse_log_batch(
        "- {\"dt\": \"1\", \"lvl\": \"target\", \"msg\": \"a\"}\n- {\"lvl\": \"event\", \"msg\": \"e\"}\n"
        "- {\"lvl\": \"results\", \"msg\": {\"case\": \"c\"}}\n- {\"lvl\": \"bogus\", \"msg\": \"x\"}",
        Records::kWhereNeeded);
    ASSERT_FALSE(lines);  // validation is the same: line 4 is bad
    lines = parse_log_batch(
        "- {\"dt\": \"1\", \"lvl\": \"target\", \"msg\": \"a\"}\n- {\"lvl\": \"event\", \"msg\": \"e\"}\n"
        "- {\"lvl\": \"results\", \"msg\": {\"case\": \"c\"}}",
        Records::kWhereNeeded);
    ASSERT_TRUE(lines);
    EXPECT_EQ((*lines)[0].level(), "target");
    EXPECT_TRUE((*lines)[0].record.is_none());  // not built: only stored
    EXPECT_EQ((*lines)[1].record.find("msg")->as_str(), "e");
    EXPECT_EQ((*lines)[2].record.find("msg")->find("case")->as_str(), "c");
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

// The fast path reads what libyaml reads, for LAVA's text records.
TEST(LogLine, CanonicalFastPathAgreesWithLibyaml) {
    for (const char* line : {R"(- {"dt": "2023-01-10T10:00:00.123456", "lvl": "target", "msg": "a \"b\" \\ \t\x7F\xE9\u2603\U0001F600\L\N\_\0\e\/\ "})",
                             R"(- {"lvl": "info", "msg": ""})",
                             R"(- {"msg": "m", "ns": "common", "lvl": "feedback", "dt": "x"})"}) {
        auto fast = parse_canonical_record(line);
        ASSERT_TRUE(fast) << line;
        auto slow = common::yaml::load(line);
        ASSERT_TRUE(slow) << line;
        EXPECT_TRUE(slow->as_list()[0] == *fast) << line;
    }
    // Anything else is left to libyaml.
    for (const char* line : {R"(- {"lvl": "results", "msg": {"case": "x"}})", R"(- {"lvl": "info", "msg": ! "1"})",
                             R"(- {"lvl": "info", "msg": "a", "msg": "b"})", R"(- {"lvl": "info", "msg": "\uD800"})",
                             R"(- {"lvl": "nosuch", "msg": "x"})", R"(- {"lvl": "info", "msg": "x"} )",
                             R"(- {"lvl": "info", "msg": "\q"})", "- {\"lvl\": \"info\", \"msg\": \"tab\there\"}"}) {
        EXPECT_FALSE(parse_canonical_record(line)) << line;
    }
}

}  // namespace
}  // namespace lava::proto
