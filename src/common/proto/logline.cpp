#include "common/proto/logline.hpp"

#include "common/base/text.hpp"
#include "common/yaml/load.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace lava::proto {
namespace {

using common::data::Kind;
using common::data::Value;

constexpr std::array<std::string_view, 10> kLevels{"debug",  "info",   "warning",  "error",   "exception",
                                                   "input",  "target", "feedback", "results", "event"};

void scalar(std::string& out, const Value& v);

// Whether libyaml's emitter writes this mapping key as a simple key ("k: v")
// rather than an explicit one ("? k : v"): an empty collection, or a scalar
// of at most 128 UTF-8 bytes without a line break. libyaml's reader refuses
// simple keys longer than 1024 characters, which an escaped key can reach.
bool simple_key(const Value& key) {
    switch (key.kind()) {
        case Kind::kList:
        case Kind::kTuple: return key.as_list().empty();
        case Kind::kDict: return key.as_dict().empty();
        case Kind::kStr: break;
        default: return true;
    }
    constexpr std::size_t kMaxSimpleKeyBytes = 128;
    const std::string_view s = key.as_str();
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < s.size();) {
        const char32_t cp = next_code_point(s, i);
        if (cp == '\n' || cp == '\r' || cp == 0x85 || cp == 0x2028 || cp == 0x2029) return false;
        bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (bytes > kMaxSimpleKeyBytes) return false;
    }
    return true;
}

void node(std::string& out, const Value& v) {
    switch (v.kind()) {
        case Kind::kList:
        case Kind::kTuple: {
            out += '[';
            bool first = true;
            for (const auto& item : v.as_list()) {
                if (!first) out += ", ";
                first = false;
                node(out, item);
            }
            out += ']';
            return;
        }
        case Kind::kDict: {
            // PyYAML sorts mapping keys (sort_keys=True).
            std::vector<const std::pair<Value, Value>*> items;
            for (const auto& kv : v.as_dict()) items.push_back(&kv);
            std::stable_sort(items.begin(), items.end(),
                             [](const auto* a, const auto* b) { return a->first.str() < b->first.str(); });
            out += '{';
            bool first = true;
            for (const auto* kv : items) {
                if (!first) out += ", ";
                first = false;
                if (simple_key(kv->first)) {
                    node(out, kv->first);
                    out += ": ";
                } else {
                    out += "? ";
                    node(out, kv->first);
                    out += " : ";
                }
                node(out, kv->second);
            }
            out += '}';
            return;
        }
        default: scalar(out, v);
    }
}

void scalar(std::string& out, const Value& v) {
    switch (v.kind()) {
        case Kind::kStr: out += quote_log_string(v.as_str()); return;
        case Kind::kNone:
        case Kind::kUndefined: out += "! \"null\""; return;
        case Kind::kBool: out += v.as_bool() ? "! \"true\"" : "! \"false\""; return;
        case Kind::kInt: out += "! \"" + std::to_string(v.as_int()) + "\""; return;
        case Kind::kFloat: {
            // PyYAML: repr().lower(), ".nan"/".inf", and "1e+17" becomes "1.0e+17".
            const double d = v.as_number();
            std::string text;
            if (std::isnan(d)) {
                text = ".nan";
            } else if (std::isinf(d)) {
                text = d > 0 ? ".inf" : "-.inf";
            } else {
                text = v.repr();
                std::transform(text.begin(), text.end(), text.begin(),
                               [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
                if (text.find('.') == std::string::npos && text.find('e') != std::string::npos) {
                    text.insert(text.find('e'), ".0");
                }
            }
            out += "! " + quote_log_string(text);
            return;
        }
        default: out += "! " + quote_log_string(v.str()); return;
    }
}

}  // namespace

bool is_log_level(std::string_view lvl) {
    return std::find(kLevels.begin(), kLevels.end(), lvl) != kLevels.end();
}

char log_level_code(std::string_view lvl) {
    const auto it = std::find(kLevels.begin(), kLevels.end(), lvl);
    return it == kLevels.end() ? '?' : static_cast<char>('0' + (it - kLevels.begin()));
}

std::string_view log_level_name(char code) {
    const int i = code - '0';
    return i >= 0 && i < static_cast<int>(kLevels.size()) ? kLevels[static_cast<std::size_t>(i)] : std::string_view();
}

std::string stored_line_level(std::string_view line) {
    if (auto level = canonical_record_level(line)) return *level;
    auto parsed = parse_log_batch(line, Records::kAll);
    return parsed && parsed->size() == 1 ? (*parsed)[0].lvl : std::string();
}

std::optional<Value> parse_stored_record(std::string_view line) {
    if (auto record = parse_canonical_record(line)) return record;
    auto parsed = parse_log_batch(line, Records::kAll);
    if (!parsed || parsed->size() != 1) return std::nullopt;
    return std::move((*parsed)[0].record);
}

std::string quote_log_string(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        const char c = s[i];
        if (c >= 0x20 && c <= 0x7E && c != '"' && c != '\\') {
            out += c;
            ++i;
            continue;
        }
        const char32_t cp = next_code_point(s, i);
        out += '\\';
        switch (cp) {
            case 0x00: out += '0'; continue;
            case 0x07: out += 'a'; continue;
            case 0x08: out += 'b'; continue;
            case 0x09: out += 't'; continue;
            case 0x0A: out += 'n'; continue;
            case 0x0B: out += 'v'; continue;
            case 0x0C: out += 'f'; continue;
            case 0x0D: out += 'r'; continue;
            case 0x1B: out += 'e'; continue;
            case 0x22: out += '"'; continue;
            case 0x5C: out += '\\'; continue;
            case 0x85: out += 'N'; continue;
            case 0xA0: out += '_'; continue;
            case 0x2028: out += 'L'; continue;
            case 0x2029: out += 'P'; continue;
            default: break;
        }
        int digits = 8;
        if (cp <= 0xFF) {
            out += 'x';
            digits = 2;
        } else if (cp <= 0xFFFF) {
            out += 'u';
            digits = 4;
        } else {
            out += 'U';
        }
        for (int k = digits - 1; k >= 0; --k) out += kHex[(cp >> (4 * k)) & 0xF];
    }
    out += '"';
    return out;
}

std::string dump_log_record(const Value& record) {
    std::string out;
    node(out, record);
    return out;
}

namespace {

// A double-quoted scalar at text[pos] (pos on the opening quote), ASCII
// only, with YAML's escapes; pos ends after the closing quote.
std::optional<std::string> quoted(std::string_view text, std::size_t& pos) {
    if (pos >= text.size() || text[pos] != '"') return std::nullopt;
    std::string out;
    for (++pos; pos < text.size(); ++pos) {
        const char c = text[pos];
        if (c == '"') {
            ++pos;
            return out;
        }
        if (c < 0x20 || c > 0x7E) return std::nullopt;  // left to libyaml
        if (c != '\\') {
            out += c;
            continue;
        }
        if (++pos >= text.size()) return std::nullopt;
        int digits = 0;
        switch (text[pos]) {
            case '0': out += '\0'; break;
            case 'a': out += '\a'; break;
            case 'b': out += '\b'; break;
            case 't': out += '\t'; break;
            case 'n': out += '\n'; break;
            case 'v': out += '\v'; break;
            case 'f': out += '\f'; break;
            case 'r': out += '\r'; break;
            case 'e': out += '\x1b'; break;
            case ' ': out += ' '; break;
            case '"': out += '"'; break;
            case '/': out += '/'; break;
            case '\\': out += '\\'; break;
            case 'N': append_utf8(out, 0x85); break;
            case '_': append_utf8(out, 0xA0); break;
            case 'L': append_utf8(out, 0x2028); break;
            case 'P': append_utf8(out, 0x2029); break;
            case 'x': digits = 2; break;
            case 'u': digits = 4; break;
            case 'U': digits = 8; break;
            default: return std::nullopt;
        }
        if (digits == 0) continue;
        if (pos + digits >= text.size()) return std::nullopt;
        char32_t cp = 0;
        for (int k = 1; k <= digits; ++k) {
            const char h = text[pos + k];
            int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
            if (v < 0) return std::nullopt;
            cp = cp * 16 + static_cast<char32_t>(v);
        }
        if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return std::nullopt;
        append_utf8(out, cp);
        pos += digits;
    }
    return std::nullopt;
}

}  // namespace

namespace {

// Scans a canonical line; fills `record` when given. Returns its level.
std::optional<std::string> scan_canonical(std::string_view text, common::data::Dict* record) {
    if (text.size() < 4 || text.substr(0, 3) != "- {") return std::nullopt;
    std::size_t pos = 3;
    std::string level;
    unsigned seen = 0;  // dt, lvl, msg, ns
    while (true) {
        auto key = quoted(text, pos);
        if (!key) return std::nullopt;
        const unsigned bit = *key == "dt" ? 1u : *key == "lvl" ? 2u : *key == "msg" ? 4u : *key == "ns" ? 8u : 0u;
        if (bit == 0 || (seen & bit)) return std::nullopt;  // other or repeated keys: left to libyaml
        seen |= bit;
        if (text.substr(pos, 2) != ": ") return std::nullopt;
        pos += 2;
        auto value = quoted(text, pos);
        if (!value) return std::nullopt;
        if (bit == 2u) {
            if (!is_log_level(*value)) return std::nullopt;
            level = *value;
        }
        if (record) record->emplace_back(Value(std::move(*key)), Value(std::move(*value)));
        if (text.substr(pos, 2) == ", ") {
            pos += 2;
            continue;
        }
        if (pos + 1 == text.size() && text[pos] == '}') break;
        return std::nullopt;
    }
    if ((seen & 6u) != 6u) return std::nullopt;
    return level;
}

}  // namespace

std::optional<Value> parse_canonical_record(std::string_view text) {
    common::data::Dict record;
    if (!scan_canonical(text, &record)) return std::nullopt;
    return Value(std::move(record));
}

std::optional<std::string> canonical_record_level(std::string_view text) { return scan_canonical(text, nullptr); }

Result<std::vector<LogLine>> parse_log_batch(std::string_view lines, Records records) {
    auto fail = [](std::size_t n, const std::string& why) {
        return make_error(errc::kInvalidArgument, "line " + std::to_string(n) + ": " + why);
    };
    std::vector<LogLine> out;
    std::size_t start = 0;
    std::size_t n = 0;
    while (start < lines.size()) {
        std::size_t end = lines.find('\n', start);
        if (end == std::string_view::npos) end = lines.size();
        std::string_view text = lines.substr(start, end - start);
        start = end + 1;
        ++n;
        if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
        if (text.empty() && start >= lines.size()) break;  // a trailing newline
        if (text.size() < 2 || text.substr(0, 2) != "- ") return fail(n, "not a \"- {...}\" record");
        // Most lines are text records as LAVA writes them: read those directly.
        if (records == Records::kWhereNeeded) {
            if (auto level = canonical_record_level(text)) {
                if (*level != "results" && *level != "event") {
                    out.push_back(LogLine{std::string(text), std::move(*level), Value()});
                    continue;
                }
            }
        }
        if (auto record = parse_canonical_record(text)) {
            std::string level = record->find("lvl")->as_str();
            out.push_back(LogLine{std::string(text), std::move(level), std::move(*record)});
            continue;
        }
        auto parsed = common::yaml::load(text);
        if (!parsed) return fail(n, parsed.error().message);
        if (!parsed->is_list() || parsed->as_list().size() != 1 || !parsed->as_list()[0].is_dict()) {
            return fail(n, "not one mapping");
        }
        const Value& record = parsed->as_list()[0];
        const Value* lvl = record.find("lvl");
        if (!lvl || !lvl->is_str() || !is_log_level(lvl->as_str())) return fail(n, "missing or unknown 'lvl'");
        if (!record.find("msg")) return fail(n, "missing 'msg'");
        out.push_back(LogLine{std::string(text), lvl->as_str(), record});
    }
    return out;
}

}  // namespace lava::proto
