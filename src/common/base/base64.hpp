#pragma once
// Base64 (RFC 4648, standard alphabet, padded): HTTP Basic credentials and
// XML-RPC's <base64> values.

#include <optional>
#include <string>
#include <string_view>

namespace lava {

std::string base64_encode(std::string_view bytes);

// The decoded bytes; ASCII whitespace (line breaks of MIME-style bodies) is
// skipped. Nullopt for any other character outside the alphabet, a bad
// length or misplaced padding.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace lava
