#include "common/net/url.hpp"

namespace lava::common::net {

std::string url_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::size_t i = 0;
    while (i < s.size()) {
        // Copy the run up to the next escape in one go.
        std::size_t run = i;
        while (run < s.size() && s[run] != '%' && !(plus_is_space && s[run] == '+')) ++run;
        out.append(s.data() + i, run - i);
        i = run;
        if (i >= s.size()) break;
        if (s[i] == '+') {
            out += ' ';
            ++i;
        } else if (i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 3;
        } else {
            out += '%';
            ++i;
        }
    }
    return out;
}

FormPairs parse_form(std::string_view s) {
    FormPairs out;
    std::size_t start = 0;
    while (start <= s.size()) {
        std::size_t end = s.find('&', start);
        if (end == std::string_view::npos) end = s.size();
        const std::string_view pair = s.substr(start, end - start);
        if (!pair.empty()) {
            const auto eq = pair.find('=');
            out.emplace_back(url_decode(pair.substr(0, eq), true),
                             eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1), true));
        }
        start = end + 1;
    }
    return out;
}

std::string url_encode(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '_' || u == '.' ||
            u == '-' || u == '~') {
            out += c;
        } else if (u == ' ') {
            out += '+';
        } else {
            out += '%';
            out += kHex[u >> 4];
            out += kHex[u & 15];
        }
    }
    return out;
}

std::string encode_form(const FormPairs& pairs) {
    std::string out;
    for (const auto& [k, v] : pairs) {
        if (!out.empty()) out += '&';
        out += url_encode(k) + "=" + url_encode(v);
    }
    return out;
}

}  // namespace lava::common::net
