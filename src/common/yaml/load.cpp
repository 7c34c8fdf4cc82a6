#include "common/yaml/load.hpp"

#include <yaml.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <limits>
#include <regex>

namespace lava::common::yaml {
namespace {

using data::Mark;
using data::Value;

// PyYAML's implicit resolvers (resolver.py), in the order it tries them.
const std::regex& float_re() {
    static const std::regex re(
        R"(^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?)"
        R"(|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?)"
        R"(|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*)"
        R"(|[-+]?\.(?:inf|Inf|INF))"
        R"(|\.(?:nan|NaN|NAN))$)",
        std::regex::optimize);
    return re;
}
const std::regex& int_re() {
    static const std::regex re(
        R"(^(?:[-+]?0b[0-1_]+)"
        R"(|[-+]?0[0-7_]+)"
        R"(|[-+]?(?:0|[1-9][0-9_]*))"
        R"(|[-+]?0x[0-9a-fA-F_]+)"
        R"(|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$)",
        std::regex::optimize);
    return re;
}
const std::regex& timestamp_re() {
    static const std::regex re(
        R"(^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9])"
        R"(|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?)"
        R"((?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?)"
        R"((?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$)",
        std::regex::optimize);
    return re;
}

bool is_bool_word(std::string_view s, bool& value) {
    static constexpr std::string_view kTrue[] = {"yes", "Yes", "YES", "true", "True",
                                                 "TRUE", "on", "On", "ON"};
    static constexpr std::string_view kFalse[] = {"no", "No", "NO", "false", "False",
                                                  "FALSE", "off", "Off", "OFF"};
    for (auto w : kTrue) {
        if (s == w) return value = true;
    }
    for (auto w : kFalse) {
        if (s == w) {
            value = false;
            return true;
        }
    }
    return false;
}

bool is_null_word(std::string_view s) {
    return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

std::string without_underscores(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c != '_') out += c;
    }
    return out;
}

// strtod: out-of-range text gives inf (or 0) as Python's float() does, no exception.
double to_double(const std::string& s) { return std::strtod(s.c_str(), nullptr); }

// Base-60 "1:30:05" -> 5405 (PyYAML's sexagesimal ints and floats).
double sexagesimal(const std::string& digits) {
    double value = 0;
    std::size_t start = 0;
    while (true) {
        const auto colon = digits.find(':', start);
        value = value * 60 + to_double(digits.substr(start, colon - start));
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    return value;
}

// Digits in `base` as an int64, or, past int64 (Python ints are
// unbounded), a float of the same magnitude.
Value digits_value(const std::string& digits, int base, int sign) {
    unsigned long long v = 0;
    long double big = 0;
    bool overflow = false;
    for (char ch : digits) {
        const int d = ch >= '0' && ch <= '9' ? ch - '0' : (std::tolower(static_cast<unsigned char>(ch)) - 'a' + 10);
        big = big * base + d;
        if (!overflow && (v > (static_cast<unsigned long long>(INT64_MAX) - d) / base)) overflow = true;
        if (!overflow) v = v * base + d;
    }
    if (overflow) return Value(static_cast<double>(sign * big));
    return Value(sign * static_cast<long long>(v));
}

Value make_int(std::string_view text) {
    std::string s = without_underscores(text);
    int sign = 1;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        if (s[0] == '-') sign = -1;
        s.erase(0, 1);
    }
    if (s == "0") return Value(0);
    if (s.rfind("0b", 0) == 0) return digits_value(s.substr(2), 2, sign);
    if (s.rfind("0x", 0) == 0) return digits_value(s.substr(2), 16, sign);
    if (s.find(':') != std::string::npos) {
        const double v = sexagesimal(s);
        if (std::abs(v) >= 9.2e18) return Value(sign * v);
        return Value(sign * static_cast<long long>(v));
    }
    if (s[0] == '0') return digits_value(s, 8, sign);
    return digits_value(s, 10, sign);
}

Value make_float(std::string_view text) {
    std::string s = without_underscores(text);
    double sign = 1;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        if (s[0] == '-') sign = -1;
        s.erase(0, 1);
    }
    std::string lower;
    for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == ".inf") return Value(sign * std::numeric_limits<double>::infinity());
    if (lower == ".nan") return Value(std::numeric_limits<double>::quiet_NaN());
    if (s.find(':') != std::string::npos) return Value(sign * sexagesimal(s));
    return Value(sign * to_double(s));
}

struct Failure {
    std::string problem;
    Mark mark;
};

const std::string kTagPrefix = "tag:yaml.org,2002:";

Mark mark_of(const yaml_mark_t& m) {
    return Mark{static_cast<int>(m.line) + 1, static_cast<int>(m.column) + 1};
}

// Builds values from libyaml's events, as PyYAML's composer and SafeConstructor do.
class Builder {
public:
    explicit Builder(std::string_view text) {
        if (!yaml_parser_initialize(&parser_)) throw Failure{"cannot initialise the YAML parser", {}};
        yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()),
                                     text.size());
        yaml_parser_set_encoding(&parser_, YAML_UTF8_ENCODING);
    }
    ~Builder() {
        if (have_event_) yaml_event_delete(&event_);
        yaml_parser_delete(&parser_);
    }
    Builder(const Builder&) = delete;
    Builder& operator=(const Builder&) = delete;

    Value document() {
        next();  // STREAM-START
        next();
        if (event_.type == YAML_STREAM_END_EVENT) return Value::none();
        // DOCUMENT-START
        next();
        Value root = node();
        next();  // DOCUMENT-END
        next();
        if (event_.type != YAML_STREAM_END_EVENT) {
            throw Failure{"expected a single document in the stream", mark_of(event_.start_mark)};
        }
        return root;
    }

private:
    void next() {
        if (have_event_) {
            yaml_event_delete(&event_);
            have_event_ = false;
        }
        if (!yaml_parser_parse(&parser_, &event_)) {
            std::string problem = parser_.problem ? parser_.problem : "invalid YAML";
            if (parser_.context) problem = std::string(parser_.context) + ", " + problem;
            throw Failure{problem, mark_of(parser_.problem_mark)};
        }
        have_event_ = true;
    }

    static std::string text_of(const yaml_char_t* p) { return p ? reinterpret_cast<const char*>(p) : ""; }

    void remember(const yaml_char_t* anchor, const Value& v) {
        if (anchor) anchors_[text_of(anchor)] = v;
    }

    // The node starting at the current event; leaves the cursor on its last event.
    Value node() {
        const Mark mark = mark_of(event_.start_mark);
        switch (event_.type) {
            case YAML_ALIAS_EVENT: {
                const std::string name = text_of(event_.data.alias.anchor);
                auto it = anchors_.find(name);
                if (it == anchors_.end()) throw Failure{"found undefined alias '" + name + "'", mark};
                return it->second;
            }
            case YAML_SCALAR_EVENT: {
                Value v = scalar(mark);
                v.mark = mark;
                remember(event_.data.scalar.anchor, v);
                return v;
            }
            case YAML_SEQUENCE_START_EVENT: {
                check_collection_tag(event_.data.sequence_start.tag, "seq", mark);
                const std::string anchor = text_of(event_.data.sequence_start.anchor);
                data::List items;
                for (next(); event_.type != YAML_SEQUENCE_END_EVENT; next()) items.push_back(node());
                Value v(std::move(items));
                v.mark = mark;
                if (!anchor.empty()) anchors_[anchor] = v;
                return v;
            }
            case YAML_MAPPING_START_EVENT: {
                check_collection_tag(event_.data.mapping_start.tag, "map", mark);
                const std::string anchor = text_of(event_.data.mapping_start.anchor);
                Value v = mapping(mark);
                if (!anchor.empty()) anchors_[anchor] = v;
                return v;
            }
            default:
                throw Failure{"unexpected YAML event", mark};
        }
    }

    static void check_collection_tag(const yaml_char_t* tag, const char* kind, Mark mark) {
        const std::string t = text_of(tag);
        if (t.empty() || t == "!" || t == kTagPrefix + kind) return;
        throw Failure{"could not determine a constructor for the tag '" + t + "'", mark};
    }

    Value scalar(Mark mark) {
        const auto& s = event_.data.scalar;
        const std::string text(reinterpret_cast<const char*>(s.value), s.length);
        const std::string tag = text_of(s.tag);
        // libyaml marks plain scalars, and scalars tagged "!", as plain_implicit:
        // PyYAML resolves those by the plain-scalar rules ("! \"14\"" is 14).
        if (tag.empty() || tag == "!") {
            if (s.plain_implicit) {
                auto r = resolve_plain(text);
                if (!r) throw Failure{r.error(), mark};
                return *r;
            }
            return Value(text);
        }
        if (tag == kTagPrefix + "str") return Value(text);
        const std::string_view kind =
            tag.rfind(kTagPrefix, 0) == 0 ? std::string_view(tag).substr(kTagPrefix.size()) : "";
        auto typed = resolve_plain(text);
        if (kind == "int" && typed && typed->kind() == data::Kind::kInt) return *typed;
        if (kind == "float" && typed && typed->is_number()) return Value(typed->as_number());
        if (kind == "bool" && typed && typed->is_bool()) return *typed;
        if (kind == "null" && typed && typed->is_none()) return *typed;
        if (kind == "timestamp" && typed && typed->kind() == data::Kind::kDate) return *typed;
        if (kind == "int" || kind == "float" || kind == "bool" || kind == "null" || kind == "timestamp") {
            throw Failure{"'" + text + "' is not a valid !!" + std::string(kind), mark};
        }
        throw Failure{"could not determine a constructor for the tag '" + tag + "'", mark};
    }

    static void put(data::Dict& d, Value k, Value v) {
        for (auto& [ek, ev] : d) {
            if (ek == k) {
                ev = std::move(v);  // a repeated key keeps its last value, in its first place
                return;
            }
        }
        d.emplace_back(std::move(k), std::move(v));
    }

    Value mapping(Mark mark) {
        data::Dict own;
        data::Dict merged;  // from "<<": lower precedence than the mapping's own keys
        for (next(); event_.type != YAML_MAPPING_END_EVENT; next()) {
            const Mark key_mark = mark_of(event_.start_mark);
            const bool merge_key = event_.type == YAML_SCALAR_EVENT &&
                                   event_.data.scalar.plain_implicit && event_.data.scalar.tag == nullptr &&
                                   event_.data.scalar.length == 2 &&
                                   std::memcmp(event_.data.scalar.value, "<<", 2) == 0;
            Value key = node();
            next();
            Value value = node();
            if (merge_key) {
                std::vector<Value> sources;
                if (value.is_dict()) {
                    sources.push_back(value);
                } else if (value.is_list()) {
                    sources = value.as_list();
                } else {
                    throw Failure{"expected a mapping or list of mappings for merging", key_mark};
                }
                for (auto src = sources.rbegin(); src != sources.rend(); ++src) {
                    if (!src->is_dict()) throw Failure{"expected a mapping for merging", key_mark};
                    for (const auto& [k, v] : src->as_dict()) put(merged, k, v);
                }
                continue;
            }
            if (key.is_list() || key.is_dict()) throw Failure{"found unhashable key", key_mark};
            // An empty value has no position of its own: use its key's.
            if (value.is_none() && value.mark.line == 0) value.mark = key_mark;
            put(own, std::move(key), std::move(value));
        }
        if (!merged.empty()) {
            for (auto& [k, v] : own) put(merged, k, v);
            own = std::move(merged);
        }
        Value out(std::move(own));
        out.mark = mark;
        return out;
    }

    yaml_parser_t parser_{};
    yaml_event_t event_{};
    bool have_event_ = false;
    std::map<std::string, Value> anchors_;
};

}  // namespace

boost::system::result<data::Value, std::string> resolve_plain(std::string_view text) {
    if (is_null_word(text)) return Value::none();
    bool b = false;
    if (is_bool_word(text, b)) return Value(b);
    const char c = text[0];
    const bool numeric_start =
        (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.';
    if (numeric_start) {
        const std::string s(text);
        if (std::regex_match(s, float_re())) return make_float(s);
        if (std::regex_match(s, int_re())) return make_int(s);
        if (c >= '0' && c <= '9' && std::regex_match(s, timestamp_re())) return Value::date(s);
    }
    if (text == "=") {
        return boost::system::result<data::Value, std::string>(
            boost::system::in_place_error,
            "could not determine a constructor for the tag 'tag:yaml.org,2002:value'");
    }
    return Value(std::string(text));
}

boost::system::result<data::Value, LoadFailure> load_with_mark(std::string_view text) {
    try {
        Builder builder(text);
        Value root = builder.document();
        if (root.mark.line == 0) root.mark = Mark{1, 1};
        return root;
    } catch (const Failure& f) {
        return LoadFailure{f.problem, f.mark};
    }
}

Result<data::Value> load(std::string_view text) {
    auto r = load_with_mark(text);
    if (r) return std::move(*r);
    const auto& f = r.error();
    return make_error(errc::kInvalidArgument,
                      f.problem + " (line " + std::to_string(f.mark.line) + ", column " +
                          std::to_string(f.mark.column) + ")");
}

}  // namespace lava::common::yaml
