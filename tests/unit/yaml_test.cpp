#include "common/yaml/dump.hpp"
#include "common/yaml/load.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace lava::common::yaml {
namespace {

using data::Kind;
using data::Value;

Value scalar(const std::string& text) {
    auto doc = load("k: " + text);
    EXPECT_TRUE(doc) << doc.error().message;
    return *doc->find("k");
}

// The plain-scalar resolution of PyYAML's SafeLoader (YAML 1.1).
TEST(YamlLoad, ResolvesPlainScalarsLikePyYaml) {
    EXPECT_EQ(scalar("1e3").kind(), Kind::kStr);
    EXPECT_EQ(scalar("1.5e3").kind(), Kind::kStr);
    EXPECT_EQ(scalar("1.5e+3"), Value(1500.0));
    EXPECT_EQ(scalar("0755"), Value(493));
    EXPECT_EQ(scalar("09").kind(), Kind::kStr);
    EXPECT_EQ(scalar("0x1F"), Value(31));
    EXPECT_EQ(scalar("0b101"), Value(5));
    EXPECT_EQ(scalar("1_000"), Value(1000));
    EXPECT_EQ(scalar("1:30"), Value(90));
    EXPECT_EQ(scalar("-1:30"), Value(-90));
    EXPECT_EQ(scalar(".5"), Value(0.5));
    EXPECT_EQ(scalar("+1"), Value(1));
    EXPECT_TRUE(std::isinf(scalar(".inf").as_number()));
    EXPECT_TRUE(std::isnan(scalar(".NaN").as_number()));
    for (const char* t : {"yes", "Yes", "YES", "on", "On", "true", "True"}) {
        EXPECT_EQ(scalar(t), Value(true)) << t;
        EXPECT_TRUE(scalar(t).is_bool()) << t;
    }
    for (const char* f : {"no", "NO", "off", "Off", "false", "FALSE"}) EXPECT_EQ(scalar(f), Value(false)) << f;
    EXPECT_EQ(scalar("y").kind(), Kind::kStr);  // YAML 1.1's y/n are not resolved by PyYAML
    for (const char* n : {"~", "null", "Null", "NULL", ""}) EXPECT_TRUE(scalar(n).is_none()) << n;
    EXPECT_EQ(scalar("2023-01-01").kind(), Kind::kDate);
    EXPECT_EQ(scalar("2023-01-01 10:00:00").kind(), Kind::kDate);
    EXPECT_EQ(scalar("2023-1-1").kind(), Kind::kStr);
}

// Python ints are unbounded: past int64 we keep the magnitude (as a float)
// instead of failing; found by tools/fuzz.
TEST(YamlLoad, HugeNumbersDoNotThrow) {
    for (const char* text : {"99999999999999999999999", "0x1ffffffffffffffffffff", "0777777777777777777777777",
                             "0b11111111111111111111111111111111111111111111111111111111111111111", "1.0e+999",
                             "-1.0e+999", "99999999999999999999999:59"}) {
        auto v = load(text);
        ASSERT_TRUE(v) << text;
        EXPECT_TRUE(v->is_number()) << text;
    }
    EXPECT_EQ(load("9223372036854775807")->as_int(), INT64_MAX);
    EXPECT_TRUE(load("9223372036854775808")->is_float());
    EXPECT_EQ(load("0x7fffffffffffffff")->as_int(), INT64_MAX);
    EXPECT_EQ(load("-0x10")->as_int(), -16);
    EXPECT_TRUE(load("0o17")->is_str());  // not an int in YAML 1.1
    EXPECT_EQ(load("017")->as_int(), 15);
    EXPECT_TRUE(std::isinf(load("1.0e+999")->as_number()));
    EXPECT_TRUE(load("1.0e999")->is_str());  // YAML 1.1 floats need a signed exponent
}

TEST(YamlLoad, QuotedAndTaggedScalars) {
    EXPECT_EQ(scalar("'yes'"), Value("yes"));
    EXPECT_EQ(scalar("\"0755\""), Value("0755"));
    EXPECT_EQ(scalar("!!str 5"), Value("5"));
    EXPECT_EQ(scalar("!!int '5'"), Value(5));
    EXPECT_EQ(scalar("!!float 1"), Value(1.0));
    EXPECT_FALSE(load("k: !!int abc"));
    auto custom = load("k: !custom x");
    ASSERT_FALSE(custom);
    EXPECT_NE(custom.error().message.find("could not determine a constructor for the tag '!custom'"),
              std::string::npos);
    auto value_tag = load("k: =");
    ASSERT_FALSE(value_tag);
}

TEST(YamlLoad, RepeatedKeysKeepTheLastValueInPlace) {
    auto doc = load("a: 1\nb: 2\na: 3\n");
    ASSERT_TRUE(doc);
    ASSERT_EQ(doc->as_dict().size(), 2u);
    EXPECT_EQ(doc->as_dict()[0].first, Value("a"));
    EXPECT_EQ(*doc->find("a"), Value(3));
}

TEST(YamlLoad, MergeKeys) {
    auto doc = load("base: &b {x: 1, y: 2}\nother: &o {y: 20, z: 30}\n"
                    "one: {<<: *b, y: 5}\nmany: {<<: [*b, *o], w: 0}\n");
    ASSERT_TRUE(doc) << doc.error().message;
    const Value& one = *doc->find("one");
    EXPECT_EQ(*one.find("x"), Value(1));
    EXPECT_EQ(*one.find("y"), Value(5));  // explicit keys win
    EXPECT_EQ(one.find("<<"), nullptr);
    const Value& many = *doc->find("many");
    EXPECT_EQ(*many.find("y"), Value(2));  // earlier sources win
    EXPECT_EQ(*many.find("z"), Value(30));
    EXPECT_FALSE(load("m: {<<: 1}"));
}

TEST(YamlLoad, MarksAndErrorsCarryPositions) {
    auto doc = load("a: 1\nlist:\n  - x\n  - {k: v}\nempty:\nnext: 1\n");
    ASSERT_TRUE(doc);
    EXPECT_EQ(doc->find("list")->as_list()[1].mark.line, 4);
    EXPECT_EQ(doc->find("list")->as_list()[1].mark.column, 5);
    EXPECT_EQ(doc->find("empty")->mark.line, 5);  // an empty value points at its key
    auto bad = load_with_mark("a: 1\nb: [1, 2\n");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().mark.line, 3);
    auto bad_text = load("a: 1\n  b: 2\n");
    ASSERT_FALSE(bad_text);
    EXPECT_NE(bad_text.error().message.find("(line 2, column"), std::string::npos)
        << bad_text.error().message;
}

TEST(YamlDump, RoundTripsValuesThatPlainScalarsWouldRetype) {
    data::Dict d{{Value("strings"), Value(data::List{Value("yes"), Value("0755"), Value(""),
                                                    Value("1:30"), Value("null"), Value("plain"),
                                                    Value("a: b"), Value("2023-01-01"), Value("=")})},
                 {Value("numbers"), Value(data::List{Value(1), Value(-2), Value(1.5), Value(1e20),
                                                    Value(true), Value()})},
                 {Value("nested"), Value(data::Dict{{Value("k"), Value(data::List{})}})}};
    const Value original(d);
    auto back = load(dump(original));
    ASSERT_TRUE(back) << dump(original);
    EXPECT_EQ(*back, original) << dump(original);
    EXPECT_TRUE(back->find("numbers")->as_list()[3].is_float());
}

}  // namespace
}  // namespace lava::common::yaml
