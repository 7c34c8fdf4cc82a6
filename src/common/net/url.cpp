#include "common/net/url.hpp"

#include "common/base/text.hpp"
#include "common/net/http.hpp"

namespace lava::common::net {

std::string url_decode(std::string_view s, bool plus_is_space) {
    // Decoding never grows the text: write into a buffer of the input's size
    // through a pointer (log uploads are hundreds of kilobytes, mostly escapes).
    std::string out(s.size(), '\0');
    char* w = out.data();
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    const char* p = s.data();
    const char* const end = p + s.size();
    while (p < end) {
        const char c = *p;
        if (c == '%' && end - p > 2) {
            const int hi = hex(p[1]);
            const int lo = hex(p[2]);
            if (hi >= 0 && lo >= 0) {
                *w++ = static_cast<char>(hi * 16 + lo);
                p += 3;
                continue;
            }
        }
        *w++ = (plus_is_space && c == '+') ? ' ' : c;
        ++p;
    }
    out.resize(static_cast<std::size_t>(w - out.data()));
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

std::optional<std::string> request_cookie(const HttpRequest& request, std::string_view name) {
    for (const auto& [header, value] : request.headers) {
        if (header != "cookie") continue;
        for (auto part : split(value, ';', false)) {
            const auto begin = part.find_first_not_of(' ');
            if (begin == std::string::npos) continue;
            const auto eq = part.find('=', begin);
            if (eq == std::string::npos) continue;
            if (std::string_view(part).substr(begin, eq - begin) == name) {
                auto v = part.substr(eq + 1);
                while (!v.empty() && v.back() == ' ') v.pop_back();
                return v;
            }
        }
    }
    return std::nullopt;
}

}  // namespace lava::common::net
