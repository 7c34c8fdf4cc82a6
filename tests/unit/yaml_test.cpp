#include "common/yaml/dump.hpp"
#include "common/yaml/load.hpp"

#include "common/base/limits.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <regex>

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

// The hand-written matchers accept exactly what PyYAML's resolver regexes
// accept: every string of up to 5 characters over the alphabet that matters
// resolves to the same kind as the regexes (kept here, as the reference) say.
TEST(YamlLoad, PlainScalarMatchersAgreeWithPyYamlRegexes) {
    const std::regex float_re(
        R"(^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?)"
        R"(|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$)");
    const std::regex int_re(
        R"(^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)"
        R"(|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$)");
    const std::regex ts_re(
        R"(^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?)"
        R"((?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?)"
        R"((?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$)");
    auto expected = [&](const std::string& s) {
        const char c = s[0];
        if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.')) return Kind::kStr;
        if (std::regex_match(s, float_re)) return Kind::kFloat;
        if (std::regex_match(s, int_re)) return Kind::kInt;
        if (c >= '0' && c <= '9' && std::regex_match(s, ts_re)) return Kind::kDate;
        return Kind::kStr;
    };
    auto check = [&](const std::string& s) {
        auto r = resolve_plain(s);
        ASSERT_TRUE(r) << s;
        const Kind got = r->kind() == Kind::kBool ? Kind::kInt : r->kind();
        Kind want = expected(s);
        // Past int64 an int keeps its magnitude as a float (HugeNumbersDoNotThrow).
        if (want == Kind::kInt && got == Kind::kFloat) want = Kind::kFloat;
        EXPECT_EQ(got, want) << "'" << s << "'";
    };
    const std::string alphabet = "019_.:-+eEbxa";
    std::vector<std::string> level{""};
    for (int len = 1; len <= 5; ++len) {
        std::vector<std::string> next;
        for (const auto& prefix : level) {
            for (char ch : alphabet) {
                next.push_back(prefix + ch);
                check(next.back());
            }
        }
        level = std::move(next);
    }
    for (const char* s : {"2023-01-01", "2023-1-1", "2023-01-01T10:00:00", "2023-1-1 10:00:00.5 +02:00",
                          "2023-01-01t1:00:00Z", "2023-01-01 10:00:00  -5", "2023-01-01 10:00:00 +0530",
                          "2023-01-01\t10:00:00", "2023-01-01 10:00", "1:2:3.5", "190:20:30", "1:60",
                          ".inf", "-.Inf", "+.INF", ".nan", "-.nan", "0o17", "0x", "0b", "1__0"}) {
        check(s);
    }
}

// Documents past the limits are refused with the setting's name, fast, and
// without recursing: 200,000 nested '[' would overflow the stack otherwise.
TEST(YamlLoad, DeepNestingIsRefusedWithTheLimitNamed) {
    const std::string deep = std::string(200000, '[') + std::string(200000, ']');
    auto r = load_with_mark(deep);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().problem.find("yaml_max_depth"), std::string::npos) << r.error().problem;
    EXPECT_EQ(r.error().mark.line, 1);
    std::string nested_maps;
    for (int i = 0; i < 5000; ++i) nested_maps += std::string(static_cast<std::size_t>(i), ' ') + "k:\n";
    auto maps = load(nested_maps);
    ASSERT_FALSE(maps);
    EXPECT_NE(maps.error().message.find("yaml_max_depth"), std::string::npos);
    // At the limit it still loads.
    const int depth = input_limits().yaml_max_depth;
    auto ok = load(std::string(static_cast<std::size_t>(depth), '[') + std::string(static_cast<std::size_t>(depth), ']'));
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(ok->depth(), static_cast<std::uint32_t>(depth));
}

TEST(YamlLoad, AliasExpansionCountsAgainstTheNodeLimit) {
    std::string laughs = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
    std::string prev = "a";
    for (int i = 1; i <= 9; ++i) {
        const std::string name = "b" + std::to_string(i);
        laughs += name + ": &" + name + " [";
        for (int k = 0; k < 10; ++k) laughs += (k ? ", *" : "*") + prev;
        laughs += "]\n";
        prev = name;
    }
    auto r = load(laughs);  // 10^10 nodes expanded: refused after the first million
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("yaml_max_nodes"), std::string::npos) << r.error().message;
    // Aliases within the limit still share what they name.
    auto small = load("a: &x [1, 2]\nb: *x\nc: {<<: {k: 1}, j: 2}\n");
    ASSERT_TRUE(small);
    EXPECT_EQ(*small->find("a"), *small->find("b"));
}

TEST(YamlLoad, LargeMappingsAndScalarsCostTheirSize) {
    // 200,000 keys: a linear scan per key would take minutes (past ctest's timeout).
    std::string many;
    for (int i = 0; i < 200000; ++i) many += "k" + std::to_string(i) + ": " + std::to_string(i) + "\n";
    many += "k5: last\n";
    auto r = load(many);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->as_dict().size(), 200000u);
    EXPECT_EQ(*r->find("k5"), Value("last"));  // a repeated key keeps its last value, in its first place
    EXPECT_EQ(r->as_dict()[5].first, Value("k5"));
    // 1 == 1.0 == True as keys.
    auto keys = load("1: a\n1.0: b\ntrue: c\n2: d\n");
    ASSERT_TRUE(keys);
    EXPECT_EQ(keys->as_dict().size(), 2u);
    EXPECT_EQ(*keys->find(Value(1)), Value("c"));
    // A 4 MB number resolves in one pass (std::regex recursed per character).
    auto big = load("x: " + std::string(4 << 20, '7'));
    ASSERT_TRUE(big);
    EXPECT_TRUE(big->find("x")->is_number());
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

// Found by tools/fuzz (seeds fuzz/corpus/yaml/regression-*): strings that
// yaml-cpp would write plain but libyaml would read back differently.
TEST(YamlDump, QuotesWhatAPlainScalarWouldChange) {
    for (const char* s : {"a\rb", "<<", "a\xe2\x80\xa8" "b", "a\xc2\x85" "b", "a\xe2\x80\xa9" "b", "\xef\xbb\xbf" "a", "\x7f",
                          "\xc2\x9e" "c1", "\xef\xbf\xbe", "x\xc3\xbf\xc2\x80"}) {
        const Value original(data::Dict{{Value(s), Value(data::List{Value(s)})}});
        auto back = load(dump(original));
        ASSERT_TRUE(back) << dump(original) << back.error().message;
        EXPECT_EQ(*back, original) << dump(original);
    }
}

}  // namespace
}  // namespace lava::common::yaml
