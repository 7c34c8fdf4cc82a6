#include "common/data/value.hpp"

#include <gtest/gtest.h>

namespace lava::common::data {
namespace {

TEST(Value, PythonEqualityAcrossNumbersAndBools) {
    EXPECT_EQ(Value(1), Value(1.0));
    EXPECT_EQ(Value(1), Value(true));
    EXPECT_EQ(Value(0), Value(false));
    EXPECT_FALSE(Value(1) == Value("1"));
    EXPECT_EQ(Value(List{Value(1), Value("a")}), Value(List{Value(true), Value("a")}));
    EXPECT_FALSE(Value(List{}) == Value::tuple({}));
    EXPECT_EQ(Value(Dict{{Value("a"), Value(1)}, {Value("b"), Value(2)}}),
              Value(Dict{{Value("b"), Value(2)}, {Value("a"), Value(1)}}));
    EXPECT_EQ(Value::none(), Value());
}

TEST(Value, BoolIsAnIntButNotTheReverse) {
    EXPECT_TRUE(Value(true).is_int());
    EXPECT_TRUE(Value(true).is_number());
    EXPECT_FALSE(Value(1).is_bool());
    EXPECT_EQ(Value(true).as_int(), 1);
}

TEST(Value, Truthiness) {
    EXPECT_FALSE(Value::none().truthy());
    EXPECT_FALSE(Value::undefined().truthy());
    EXPECT_FALSE(Value("").truthy());
    EXPECT_FALSE(Value(0.0).truthy());
    EXPECT_FALSE(Value(List{}).truthy());
    EXPECT_TRUE(Value("0").truthy());
    EXPECT_TRUE(Value(List{Value()}).truthy());
}

TEST(Value, ReprIsPythons) {
    EXPECT_EQ(Value("a").repr(), "'a'");
    EXPECT_EQ(Value("it's").repr(), "\"it's\"");
    EXPECT_EQ(Value("both ' \"").repr(), "'both \\' \"'");
    EXPECT_EQ(Value("a\nb\\").repr(), "'a\\nb\\\\'");
    EXPECT_EQ(Value(List{Value("a"), Value(1), Value(true), Value()}).repr(), "['a', 1, True, None]");
    EXPECT_EQ(Value::tuple({Value(1)}).repr(), "(1,)");
    EXPECT_EQ(Value(Dict{{Value("k"), Value(List{})}}).repr(), "{'k': []}");
    EXPECT_EQ(Value::undefined("x").repr(), "Undefined");
    EXPECT_EQ(Value::undefined("x").str(), "");
    EXPECT_EQ(Value("plain").str(), "plain");
}

TEST(Value, FloatReprIsShortestRoundTrip) {
    EXPECT_EQ(python_float_repr(1.0), "1.0");
    EXPECT_EQ(python_float_repr(0.1), "0.1");
    EXPECT_EQ(python_float_repr(1500.0), "1500.0");
    EXPECT_EQ(python_float_repr(1e16), "1e+16");
    EXPECT_EQ(python_float_repr(1e-05), "1e-05");
    EXPECT_EQ(python_float_repr(0.0001), "0.0001");
    EXPECT_EQ(python_float_repr(-2.5), "-2.5");
    EXPECT_EQ(python_float_repr(123456789.0), "123456789.0");
    EXPECT_EQ(python_float_repr(1.5e300), "1.5e+300");
}

TEST(Value, DictLookupUsesPythonKeyEquality) {
    const Value d(Dict{{Value(1), Value("one")}, {Value("k"), Value("v")}});
    ASSERT_NE(d.find(Value(true)), nullptr);
    EXPECT_EQ(d.find(Value(true))->str(), "one");
    EXPECT_EQ(d.find("k")->str(), "v");
    EXPECT_EQ(d.find("missing"), nullptr);
    EXPECT_EQ(Value(1).find("k"), nullptr);
}

}  // namespace
}  // namespace lava::common::data
