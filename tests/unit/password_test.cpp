#include "common/crypto/password.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <memory>
#include <set>
#include <string>

namespace lava::common::crypto {
namespace {

// Runs a command and returns its standard output, or nullopt if it failed.
std::optional<std::string> run(const std::string& cmd) {
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
    if (!pipe) return std::nullopt;
    std::string out;
    std::array<char, 256> buf{};
    while (std::fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
    if (pclose(pipe.release()) != 0) return std::nullopt;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

// A known answer computed with Python:
//   base64.b64encode(hashlib.pbkdf2_hmac('sha256', b'lava', b'seasalt', 1000)).decode()
TEST(Password, KnownAnswerVector) {
    EXPECT_EQ(make_password("lava", "seasalt", 1000),
              "pbkdf2_sha256$1000$seasalt$X+GpUqhofEeAiJUZh0JowEnF6L/QTRS14roy3FNirOU=");
}

// The same hash that Python's hashlib makes, recomputed now by /usr/bin/python3,
// with a non-ASCII password.
TEST(Password, ReproducesPythonHashlib) {
    const std::string script =
        "import base64,hashlib;"
        "print(base64.b64encode(hashlib.pbkdf2_hmac('sha256', 'pässwörd'.encode(), "
        "b'NaCl0123456789', 260000)).decode())";
    auto expected = run("/usr/bin/python3 -c \"" + script + "\"");
    ASSERT_TRUE(expected) << "/usr/bin/python3 is needed for this test";
    EXPECT_EQ(make_password("pässwörd", "NaCl0123456789", 260000),
              "pbkdf2_sha256$260000$NaCl0123456789$" + *expected);
}

// Django's own hasher, when Debian's python3-django is installed: Django
// accepts our hash, and we accept Django's.
TEST(Password, InteroperatesWithDjango) {
    if (!run("/usr/bin/python3 -c 'import django' 2>/dev/null")) {
        GTEST_SKIP() << "python3-django not installed";
    }
    const std::string setup =
        "from django.conf import settings; settings.configure(); "
        "from django.contrib.auth.hashers import make_password, check_password; ";
    auto django_hash = run("/usr/bin/python3 -c \"" + setup + "print(make_password('s3cret'))\"");
    ASSERT_TRUE(django_hash);
    ASSERT_EQ(django_hash->rfind("pbkdf2_sha256$", 0), 0u) << *django_hash;
    EXPECT_TRUE(check_password("s3cret", *django_hash));
    EXPECT_FALSE(check_password("s3cret!", *django_hash));

    const std::string ours = make_password("another");
    // The hash goes through the environment: the shell would expand its '$'.
    auto verdict = run("HASH='" + ours + "' /usr/bin/python3 -c \"import os; " + setup +
                       "print(check_password('another', os.environ['HASH']))\"");
    ASSERT_TRUE(verdict);
    EXPECT_EQ(*verdict, "True");
}

TEST(Password, CheckRejectsWrongPasswordsAndMalformedHashes) {
    const auto h = make_password("right", "salt", 1000);
    EXPECT_TRUE(check_password("right", h));
    EXPECT_FALSE(check_password("wrong", h));
    EXPECT_FALSE(check_password("right", "!unusable"));
    EXPECT_FALSE(check_password("right", "md5$1000$salt$abc"));
    EXPECT_FALSE(check_password("right", "pbkdf2_sha256$x$salt$abc"));
    EXPECT_FALSE(check_password("right", "pbkdf2_sha256$1000$salt"));
    EXPECT_FALSE(check_password("right", ""));
}

TEST(Password, FreshSaltsDiffer) {
    EXPECT_NE(make_password("same"), make_password("same"));
}

TEST(RandomString, LengthAlphabetAndVariety) {
    const auto s = random_string(128, kLowerAlnum);
    EXPECT_EQ(s.size(), 128u);
    for (char c : s) EXPECT_NE(kLowerAlnum.find(c), std::string_view::npos) << c;
    std::set<char> distinct(s.begin(), s.end());
    EXPECT_GT(distinct.size(), 20u);  // 128 draws from 36 symbols
    EXPECT_NE(random_string(32), random_string(32));
}

TEST(ConstantTimeEqual, ComparesContentAndLength) {
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("abc", "abcd"));
}

TEST(Sha256, KnownAnswer) {
    EXPECT_EQ(sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace lava::common::crypto
