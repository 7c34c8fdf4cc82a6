#include "common/yaml/dump.hpp"

#include "common/base/text.hpp"
#include "common/yaml/load.hpp"

#include <cmath>
#include <cstdio>

namespace lava::common::yaml {
namespace {

using data::Kind;
using data::Value;

// A float as YAML 1.1 reads it back: PyYAML needs a '.' ("1.0e+20", not "1e+20").
std::string yaml_float(double d) {
    if (std::isnan(d)) return ".nan";
    if (std::isinf(d)) return d > 0 ? ".inf" : "-.inf";
    std::string s = data::python_float_repr(d);
    const auto e = s.find('e');
    if (e != std::string::npos && s.find('.') == std::string::npos) s.insert(e, ".0");
    return s;
}

bool is_break_or_bom(char32_t cp) { return cp == 0x85 || cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF; }

// YAML's printable characters, which a stream may hold as they are; the
// others (C0 and C1 controls, U+FFFE, U+FFFF) only escaped.
bool is_printable(char32_t cp) {
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0x7E) || cp == 0x85 ||
           (cp >= 0xA0 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

// Whether `s` reads back as itself when written as a plain scalar, as a
// block mapping key or value, or a block sequence item: no indicator first,
// no ": " or " #", no edge spaces, nothing YAML resolves to another type,
// only printable characters.
bool plain_safe(const std::string& s) {
    if (s.empty() || s == "<<") return false;
    if (std::string_view("-?:,[]{}#&*!|>'\"%@` ").find(s.front()) != std::string_view::npos) {
        // "-", "?" and ":" may start a plain scalar when a non-space follows.
        const bool dash_like = s.front() == '-' || s.front() == '?' || s.front() == ':';
        if (!dash_like || s.size() < 2 || s[1] == ' ' || s.rfind("---", 0) == 0) return false;
    }
    if (s.rfind("...", 0) == 0 || s.back() == ' ' || s.back() == ':') return false;
    if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos) return false;
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f) return false;
        const std::size_t at = i;
        const char32_t cp = next_code_point(s, i);
        if (is_break_or_bom(cp) || !is_printable(cp) || (cp == 0xFFFD && s.compare(at, 3, "\xef\xbf\xbd") != 0)) {
            return false;
        }
    }
    auto back = resolve_plain(s);
    return back && back->is_str() && back->as_str() == s;
}

// A double-quoted scalar: every character YAML would not keep as written is
// escaped; bytes that are not UTF-8 become U+FFFD (YAML text is Unicode).
void append_quoted(std::string& out, const std::string& s) {
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            switch (c) {
                case '"': out += "\\\""; break;
                case '\\': out += "\\\\"; break;
                case '\n': out += "\\n"; break;
                case '\t': out += "\\t"; break;
                case '\r': out += "\\r"; break;
                default:
                    if (c < 0x20 || c == 0x7f) {
                        char hex[8];
                        std::snprintf(hex, sizeof hex, "\\x%02x", c);
                        out += hex;
                    } else {
                        out += static_cast<char>(c);
                    }
            }
            continue;
        }
        const char32_t cp = next_code_point(s, i);
        if (cp == 0x85) {
            out += "\\N";
        } else if (cp == 0x2028) {
            out += "\\L";
        } else if (cp == 0x2029) {
            out += "\\P";
        } else if (cp == 0xFEFF || !is_printable(cp)) {
            char hex[12];
            std::snprintf(hex, sizeof hex, cp <= 0xFF ? "\\x%02x" : "\\u%04x", static_cast<unsigned>(cp));
            out += hex;
        } else {
            append_utf8(out, cp);
        }
    }
    out += '"';
}

void append_scalar(std::string& out, const Value& v) {
    switch (v.kind()) {
        case Kind::kUndefined:
        case Kind::kNone: out += "~"; return;
        case Kind::kBool: out += v.as_bool() ? "true" : "false"; return;
        case Kind::kInt: out += std::to_string(v.as_int()); return;
        case Kind::kFloat: out += yaml_float(v.as_number()); return;
        case Kind::kDate: out += v.date_text(); return;
        case Kind::kStr:
            if (plain_safe(v.as_str())) {
                out += v.as_str();
            } else {
                append_quoted(out, v.as_str());
            }
            return;
        case Kind::kList:
        case Kind::kTuple: out += "[]"; return;  // only empty ones are written inline
        case Kind::kDict: out += "{}"; return;
    }
}

bool is_block(const Value& v) {
    return (v.is_sequence() && !v.as_list().empty()) || (v.is_dict() && !v.as_dict().empty());
}

void block(std::string& out, const Value& v, std::size_t indent, bool on_current_line);

// After "key:" (or "- " for a scalar item): a scalar on the same line, a
// collection on the lines below, indented.
void value_after_indicator(std::string& out, const Value& v, std::size_t indent) {
    if (!is_block(v)) {
        out += ' ';
        append_scalar(out, v);
        out += '\n';
        return;
    }
    out += '\n';
    block(out, v, indent + 2, false);
}

// A non-empty collection at `indent`; its first line continues the current
// one when `on_current_line` (the item of a sequence: "- k: v").
void block(std::string& out, const Value& v, std::size_t indent, bool on_current_line) {
    bool first = true;
    auto line_start = [&] {
        if (!(first && on_current_line)) out.append(indent, ' ');
        first = false;
    };
    if (v.is_sequence()) {
        for (const auto& item : v.as_list()) {
            line_start();
            out += "-";
            if (is_block(item)) {
                out += ' ';
                block(out, item, indent + 2, true);
            } else {
                value_after_indicator(out, item, indent);
            }
        }
        return;
    }
    for (const auto& [k, val] : v.as_dict()) {
        line_start();
        std::string key;
        append_scalar(key, k);
        // libyaml reads implicit keys of up to 1024 characters: longer ones
        // are written as explicit keys ("? key" then ": value").
        if (key.size() > 1000) {
            out += "? " + key + "\n";
            out.append(indent, ' ');
            out += ":";
        } else {
            out += key + ":";
        }
        value_after_indicator(out, val, indent);
    }
}

}  // namespace

std::string dump(const Value& v) {
    std::string out;
    if (is_block(v)) {
        block(out, v, 0, false);
    } else {
        append_scalar(out, v);
        out += '\n';
    }
    return out;
}

}  // namespace lava::common::yaml
