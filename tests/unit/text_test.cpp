#include "common/base/text.hpp"

#include <gtest/gtest.h>

namespace lava {
namespace {

TEST(ParseId, DecimalDigitsThatFitAnInt64) {
    EXPECT_EQ(parse_id("0"), std::optional<std::int64_t>(0));
    EXPECT_EQ(parse_id("42"), std::optional<std::int64_t>(42));
    EXPECT_EQ(parse_id("999999999999999999"), std::optional<std::int64_t>(999999999999999999LL));
    for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1.0", "0x10", "1e3", "abc", "1234567890123456789"}) {
        EXPECT_FALSE(parse_id(bad).has_value()) << bad;
    }
}

}  // namespace
}  // namespace lava
