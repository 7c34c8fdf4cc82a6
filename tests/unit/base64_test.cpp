#include "common/base/base64.hpp"

#include <gtest/gtest.h>

#include <random>

namespace lava {
namespace {

// RFC 4648 §10's test vectors.
TEST(Base64, Rfc4648Vectors) {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, encoded] : vectors) {
        EXPECT_EQ(base64_encode(plain), encoded);
        EXPECT_EQ(base64_decode(encoded), std::optional<std::string>(plain)) << encoded;
    }
}

TEST(Base64, RoundTripsEveryByte) {
    std::mt19937 rng(7);
    for (std::size_t n = 0; n < 300; ++n) {
        std::string bytes(n, '\0');
        for (auto& c : bytes) c = static_cast<char>(rng() & 0xFF);
        EXPECT_EQ(base64_decode(base64_encode(bytes)), std::optional<std::string>(bytes));
    }
}

TEST(Base64, SkipsWhitespaceAsMimeBodiesHaveIt) {
    EXPECT_EQ(base64_decode("Zm9v\nYmFy\r\n"), std::optional<std::string>("foobar"));
    EXPECT_EQ(base64_decode("  Zm8=\n"), std::optional<std::string>("fo"));
}

TEST(Base64, RejectsWhatIsNotBase64) {
    for (const char* bad : {"Zm9", "Zm9v=", "Z===", "Zg=a", "Zm9v!", "Zg=", "====", "Zm-v", "Z"}) {
        EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
    }
}

}  // namespace
}  // namespace lava
