#include "common/schema/schema.hpp"
#include "common/yaml/load.hpp"

#include <gtest/gtest.h>

namespace lava::common::schema {
namespace {

using data::Value;

Value doc(const std::string& text) {
    auto v = yaml::load(text);
    EXPECT_TRUE(v) << v.error().message;
    return *v;
}

std::vector<std::string> problems(const Schema& s, const std::string& text) {
    std::vector<std::string> out;
    for (const auto& i : validate(s, doc(text))) out.push_back(i.to_string());
    return out;
}

TEST(Schema, TypesArePythons) {
    EXPECT_TRUE(validate(integer(), Value(true)).empty());  // bool is an int
    EXPECT_FALSE(validate(boolean(), Value(1)).empty());
    EXPECT_TRUE(validate(range(1, std::nullopt), Value(1.5)).empty());
    EXPECT_TRUE(validate(range(1, std::nullopt), Value(true)).empty());
    EXPECT_FALSE(validate(range(1, std::nullopt), Value("5")).empty());
    EXPECT_TRUE(validate(literal(Value(1)), Value(true)).empty());  // 1 == True
    EXPECT_TRUE(validate(match("^[a-z]+"), Value("abc123")).empty());  // re.match: start only
    EXPECT_FALSE(validate(match("^[a-z]+$"), Value("abc123")).empty());
}

TEST(Schema, ReportsEveryIssueWithPathAndPosition) {
    const Schema s = map({{required("name"), str()},
                          {optional("items"), list({map({{required("id"), integer()}})})}});
    EXPECT_EQ(problems(s, "items:\n- {id: 1}\n- {id: x}\n- {}\nextra: 1\n"),
              (std::vector<std::string>{
                  "items[1].id: expected an integer, got 'x' (line 3, column 8)",
                  "items[2].id: required key not provided (line 4, column 3)",
                  "extra: extra keys not allowed (line 5, column 1)",
                  "name: required key not provided (line 1, column 1)"}));
}

TEST(Schema, LiteralKeysBeforeKeySchemasAndNoBacktracking) {
    const Schema s = map({{optional("lava"), boolean()}, {optional(str()), integer()}});
    EXPECT_TRUE(problems(s, "lava: true\nother: 3\n").empty());
    // "lava" matched its literal key; its invalid value is not retried against str.
    EXPECT_EQ(problems(s, "lava: 3\n"),
              std::vector<std::string>{"lava: expected a boolean, got int 3 (line 1, column 7)"});
}

TEST(Schema, RequiredKeySchemaAndExclusiveGroups) {
    const Schema images = map({{required(str(), "'images' is empty"), anything()}});
    EXPECT_EQ(problems(images, "{}"), std::vector<std::string>{"'images' is empty (line 1, column 1)"});
    const Schema ex = map({{exclusive("a", "g"), anything()}, {exclusive("b", "g"), anything()}});
    EXPECT_TRUE(problems(ex, "a: 1").empty());
    EXPECT_EQ(problems(ex, "a: 1\nb: 2"),
              std::vector<std::string>{"only one of a, b may be given (line 1, column 1)"});
}

TEST(Schema, AnyPicksTheClosestAlternative) {
    const Schema s = any({map({{required("from"), literal("git")}, {required("repo"), str()}}),
                          map({{required("from"), literal("url")}, {required("url"), str()}})});
    EXPECT_TRUE(problems(s, "{from: url, url: x}").empty());
    EXPECT_EQ(problems(s, "{from: git, repo: 1}"),
              std::vector<std::string>{"repo: expected a string, got int 1 (line 1, column 19)"});
    const Schema vis = any({literal("public"), literal("personal")});
    EXPECT_EQ(problems(vis, "secret"),
              std::vector<std::string>{"expected 'public' or 'personal', got 'secret' (line 1, column 1)"});
}

TEST(Schema, AllowExtraAndMerge) {
    const Fields base{{required("a"), str()}, {optional("b"), str()}};
    const Fields more = merge(base, {{required("b"), integer()}});
    EXPECT_EQ(problems(map(more), "{a: x}"),
              std::vector<std::string>{"b: required key not provided (line 1, column 1)"});
    EXPECT_TRUE(problems(map(base, MapOptions{true, {}}), "{a: x, c: 1}").empty());
    EXPECT_EQ(problems(map(base, MapOptions{false, "no such key"}), "{a: x, c: 1}"),
              std::vector<std::string>{"c: no such key (line 1, column 8)"});
}

}  // namespace
}  // namespace lava::common::schema
