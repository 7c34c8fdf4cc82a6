#pragma once
// URL and form encoding, as Python's urllib.parse does it (the byte-level
// behaviour LAVA's clients and Django's links expect). No I/O, no Beast.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lava::common::net {

using FormPairs = std::vector<std::pair<std::string, std::string>>;

// Percent-decoding of URL paths and form/query components ('+' is a space
// in form data only). Invalid escapes are kept as written.
std::string url_decode(std::string_view s, bool plus_is_space);
// application/x-www-form-urlencoded or a query string -> ordered pairs.
FormPairs parse_form(std::string_view s);

// quote_plus: letters, digits and "_.-~" as they are, ' ' as '+', every
// other byte as %XX.
std::string url_encode(std::string_view s);
// urlencode(pairs): "k=v&k2=v2" in the given order.
std::string encode_form(const FormPairs& pairs);

}  // namespace lava::common::net
