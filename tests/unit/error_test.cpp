#include "common/base/error.hpp"

#include <gtest/gtest.h>

namespace lava {
namespace {

Result<int> parse_positive(int v) {
    if (v <= 0) return make_error(errc::kInvalidArgument, "value " + std::to_string(v) + " must be positive");
    return v;
}

TEST(Result, CarriesValueOrErrorWithMessage) {
    auto ok = parse_positive(3);
    ASSERT_TRUE(ok);
    EXPECT_EQ(*ok, 3);

    auto bad = parse_positive(-1);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, errc::kInvalidArgument);
    EXPECT_EQ(bad.error().message, "value -1 must be positive");
    EXPECT_STREQ(bad.error().code.category().name(), "lava");
}

TEST(Result, ValueOnErrorThrowsWithTheMessage) {
    auto bad = parse_positive(0);
    try {
        (void)bad.value();
        FAIL() << "value() should throw";
    } catch (const ErrorException& e) {
        EXPECT_STREQ(e.what(), "value 0 must be positive");
        EXPECT_EQ(e.code(), errc::kInvalidArgument);
    }
}

TEST(Result, VoidResult) {
    Result<void> ok;
    EXPECT_TRUE(ok);
    Result<void> bad = make_error(errc::kNotFound, "missing");
    EXPECT_FALSE(bad);
    EXPECT_EQ(bad.error().code, errc::kNotFound);
}

}  // namespace
}  // namespace lava
