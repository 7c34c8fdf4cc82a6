#include "common/crypto/password.hpp"

#include "common/base/assert.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <stdexcept>
#include <vector>

namespace lava::common::crypto {
namespace {

constexpr std::string_view kAlgorithm = "pbkdf2_sha256";

std::string pbkdf2_base64(std::string_view password, std::string_view salt, int iterations) {
    unsigned char digest[32];
    const int ok = PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                                     reinterpret_cast<const unsigned char*>(salt.data()),
                                     static_cast<int>(salt.size()), iterations, EVP_sha256(),
                                     sizeof digest, digest);
    LAVA_ASSERT(ok == 1, "PKCS5_PBKDF2_HMAC failed");
    std::string b64(4 * ((sizeof digest + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), digest, sizeof digest);
    b64.resize(static_cast<std::size_t>(n));
    return b64;
}

}  // namespace

std::string make_password(std::string_view password, std::string_view salt, int iterations) {
    LAVA_ASSERT(iterations > 0, "iterations must be positive");
    LAVA_ASSERT(salt.find('$') == std::string_view::npos, "salt must not contain '$'");
    std::string out(kAlgorithm);
    out += '$';
    out += std::to_string(iterations);
    out += '$';
    out += salt;
    out += '$';
    out += pbkdf2_base64(password, salt, iterations);
    return out;
}

std::string make_password(std::string_view password) {
    return make_password(password, random_string(22));
}

bool check_password(std::string_view password, std::string_view encoded) {
    // algorithm$iterations$salt$hash
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    for (std::size_t pos; (pos = encoded.find('$', start)) != std::string_view::npos;) {
        parts.push_back(encoded.substr(start, pos - start));
        start = pos + 1;
    }
    parts.push_back(encoded.substr(start));
    if (parts.size() != 4 || parts[0] != kAlgorithm) return false;
    int iterations = 0;
    const auto [ptr, ec] =
        std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), iterations);
    if (ec != std::errc{} || ptr != parts[1].data() + parts[1].size() || iterations <= 0) {
        return false;
    }
    return constant_time_equal(pbkdf2_base64(password, parts[2], iterations), parts[3]);
}

std::string random_string(std::size_t length, std::string_view alphabet) {
    LAVA_ASSERT(!alphabet.empty() && alphabet.size() <= 256, "alphabet size out of range");
    // Rejection sampling keeps every character equally likely.
    const unsigned limit = 256 - (256 % alphabet.size());
    std::string out;
    out.reserve(length);
    unsigned char buf[64];
    while (out.size() < length) {
        if (RAND_bytes(buf, sizeof buf) != 1) throw std::runtime_error("RAND_bytes failed");
        for (unsigned char b : buf) {
            if (b >= limit) continue;
            out += alphabet[b % alphabet.size()];
            if (out.size() == length) break;
        }
    }
    return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace lava::common::crypto

namespace lava::common::crypto {

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    const int ok = EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    LAVA_ASSERT(ok == 1, "EVP_Digest failed");
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (unsigned int i = 0; i < len; ++i) {
        out += kHex[md[i] >> 4];
        out += kHex[md[i] & 0xf];
    }
    return out;
}

}  // namespace lava::common::crypto
