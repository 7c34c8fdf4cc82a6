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

// MarkupSafe's escape(), which Jinja2's autoescape uses: the same five
// characters, the same references, everything else byte for byte.
TEST(HtmlEscape, AsMarkupSafe) {
    EXPECT_EQ(html_escape(""), "");
    EXPECT_EQ(html_escape("plain text \xC3\xA9"), "plain text \xC3\xA9");
    EXPECT_EQ(html_escape("<script>alert('x' & \"y\")</script>"),
              "&lt;script&gt;alert(&#39;x&#39; &amp; &#34;y&#34;)&lt;/script&gt;");
    EXPECT_EQ(html_escape("&&"), "&amp;&amp;");
    EXPECT_EQ(html_escape(std::string("a\0<", 3)), std::string("a\0&lt;", 6));
}

}  // namespace
}  // namespace lava
