#pragma once
// Passwords and secrets. Password hashes use Django's encoding,
// pbkdf2_sha256$<iterations>$<salt>$<base64 digest>, so users migrated from a
// LAVA (Django) database keep their passwords. Stateless and thread-safe.

#include <string>
#include <string_view>

namespace lava::common::crypto {

// Django 3.2's default (LAVA 2023.01 runs on Django 3.2).
inline constexpr int kDefaultPbkdf2Iterations = 260000;

// Alphabets used by LAVA for its random secrets.
inline constexpr std::string_view kAlnum =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
inline constexpr std::string_view kLowerAlnum = "0123456789abcdefghijklmnopqrstuvwxyz";

// The encoded hash of `password` with the given salt and iteration count.
std::string make_password(std::string_view password, std::string_view salt,
                          int iterations = kDefaultPbkdf2Iterations);

// As above with a fresh random salt (22 alphanumerics, as Django).
std::string make_password(std::string_view password);

// True when `encoded` is a pbkdf2_sha256 hash of `password`. Any other or
// malformed encoding (including Django's unusable "!..." marker) is false.
bool check_password(std::string_view password, std::string_view encoded);

// A string of `length` characters drawn uniformly from `alphabet` with a CSPRNG.
std::string random_string(std::size_t length, std::string_view alphabet = kAlnum);

// Compares in time that depends only on the lengths, for secrets.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace lava::common::crypto

namespace lava::common::crypto {
// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);
}  // namespace lava::common::crypto
