#pragma once
// Validation of the names users choose for lab objects.

#include "common/base/error.hpp"

#include <string>
#include <string_view>

namespace lava::server::store {

// Hostnames, device-type names and tag names: [-_a-zA-Z0-9.]+, at most `max` long.
// The error names what was checked: "invalid worker hostname 'a b': ...".
inline Result<void> check_name(std::string_view what, std::string_view value, std::size_t max) {
    auto bad = [&](std::string why) -> Result<void> {
        return make_error(errc::kInvalidArgument,
                          "invalid " + std::string(what) + " '" + std::string(value) + "': " + why);
    };
    if (value.empty()) return bad("must not be empty");
    if (value.size() > max) return bad("longer than " + std::to_string(max) + " characters");
    for (char c : value) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '-' || c == '_' || c == '.';
        if (!ok) return bad("only letters, digits, '-', '_' and '.' are allowed");
    }
    return {};
}

inline Error not_found(std::string_view what, std::string_view name) {
    return make_error(errc::kNotFound,
                      "unknown " + std::string(what) + " '" + std::string(name) + "'");
}

inline Error already_exists(std::string_view what, std::string_view name) {
    return make_error(errc::kAlreadyExists,
                      std::string(what) + " '" + std::string(name) + "' already exists");
}

}  // namespace lava::server::store
