#include "common/yaml/load.hpp"

#include "common/base/limits.hpp"

#include <yaml.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <unordered_map>
#include <limits>

namespace lava::common::yaml {
namespace {

using data::Mark;
using data::Value;

// PyYAML's implicit resolvers (resolver.py), as hand-written matchers: each
// accepts exactly what PyYAML's regular expression accepts (tests/unit/
// yaml_test.cpp compares them), in one pass and without recursion, so a
// scalar of any length costs its length (std::regex recurses per character).
class Scan {
public:
    explicit Scan(std::string_view s) : s_(s) {}
    bool done() const { return i_ == s_.size(); }
    bool eat(char c) {
        if (i_ < s_.size() && s_[i_] == c) return ++i_, true;
        return false;
    }
    bool eat_any(std::string_view chars) {
        if (i_ < s_.size() && chars.find(s_[i_]) != std::string_view::npos) return ++i_, true;
        return false;
    }
    void eat_sign() { eat_any("-+"); }
    bool eat_digit() { return eat_any("0123456789"); }
    // chars*; how many were taken.
    std::size_t eat_run(std::string_view chars) {
        const std::size_t from = i_;
        while (eat_any(chars)) {
        }
        return i_ - from;
    }
    std::size_t digit_run() { return eat_run("0123456789"); }
    bool eat_word(std::string_view w) {
        if (s_.substr(i_, w.size()) != w) return false;
        i_ += w.size();
        return true;
    }
    char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
    // (?::[0-5]?[0-9])+ followed by what the caller checks: one or more
    // ":" groups of one digit, or two whose first is 0-5.
    bool sexagesimal_groups() {
        bool any = false;
        while (peek() == ':') {
            ++i_;
            const std::size_t from = i_;
            const std::size_t n = digit_run();
            if (n == 0 || n > 2 || (n == 2 && s_[from] > '5')) return false;
            any = true;
        }
        return any;
    }
    // [eE][-+][0-9]+, optional.
    bool exponent() {
        if (!eat_any("eE")) return true;
        return eat_any("-+") && digit_run() > 0;
    }

private:
    std::string_view s_;
    std::size_t i_ = 0;
};

constexpr std::string_view kDigitsUnderscore = "0123456789_";

bool float_like(std::string_view s) {
    {  // [-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?
        Scan c(s);
        c.eat_sign();
        if (c.eat_digit()) {
            c.eat_run(kDigitsUnderscore);
            if (c.eat('.')) {
                c.eat_run(kDigitsUnderscore);
                if (c.exponent() && c.done()) return true;
            }
        }
    }
    {  // \.[0-9][0-9_]*([eE][-+][0-9]+)?
        Scan c(s);
        if (c.eat('.') && c.eat_digit()) {
            c.eat_run(kDigitsUnderscore);
            if (c.exponent() && c.done()) return true;
        }
    }
    {  // [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*
        Scan c(s);
        c.eat_sign();
        if (c.eat_digit()) {
            c.eat_run(kDigitsUnderscore);
            if (c.sexagesimal_groups() && c.eat('.')) {
                c.eat_run(kDigitsUnderscore);
                if (c.done()) return true;
            }
        }
    }
    {  // [-+]?\.(inf|Inf|INF)
        Scan c(s);
        c.eat_sign();
        if (c.eat('.') && (c.eat_word("inf") || c.eat_word("Inf") || c.eat_word("INF")) && c.done()) return true;
    }
    // \.(nan|NaN|NAN)
    return s == ".nan" || s == ".NaN" || s == ".NAN";
}

bool int_like(std::string_view s) {
    Scan c(s);
    c.eat_sign();
    if (c.eat_word("0b")) return c.eat_run("01_") > 0 && c.done();
    if (c.eat_word("0x")) return c.eat_run("0123456789abcdefABCDEF_") > 0 && c.done();
    if (c.eat('0')) return c.done() || (c.eat_run("01234567_") > 0 && c.done());
    if (!c.eat_any("123456789")) return false;
    c.eat_run(kDigitsUnderscore);
    if (c.done()) return true;
    return c.sexagesimal_groups() && c.done();
}

bool timestamp_like(std::string_view s) {
    Scan c(s);
    // YYYY-MM-DD, or YYYY-M?M-D?D followed by a time.
    for (int i = 0; i < 4; ++i) {
        if (!c.eat_digit()) return false;
    }
    if (!c.eat('-')) return false;
    const std::size_t month = c.digit_run();
    if (month < 1 || month > 2 || !c.eat('-')) return false;
    const std::size_t day = c.digit_run();
    if (day < 1 || day > 2) return false;
    if (c.done()) return month == 2 && day == 2;
    if (!c.eat_any("Tt") && c.eat_run(" \t") == 0) return false;
    const std::size_t hour = c.digit_run();
    if (hour < 1 || hour > 2 || !c.eat(':') || c.digit_run() != 2 || !c.eat(':') || c.digit_run() != 2) return false;
    if (c.eat('.')) c.digit_run();
    if (c.done()) return true;
    c.eat_run(" \t");
    if (c.eat('Z')) return c.done();
    if (!c.eat_any("-+")) return false;
    const std::size_t tz_hour = c.digit_run();
    if (tz_hour < 1 || tz_hour > 2) return false;
    if (c.eat(':') && c.digit_run() != 2) return false;
    return c.done();
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

    // The node starting at the current event; leaves the cursor on its last
    // event. Every node counts against yaml_max_nodes, an alias as many
    // nodes as what it names (so "billion laughs" fails fast, though the
    // values themselves are shared), and collections against yaml_max_depth.
    Value node(std::size_t depth = 0) {
        const Mark mark = mark_of(event_.start_mark);
        switch (event_.type) {
            case YAML_ALIAS_EVENT: {
                const std::string name = text_of(event_.data.alias.anchor);
                auto it = anchors_.find(name);
                if (it == anchors_.end()) throw Failure{"found undefined alias '" + name + "'", mark};
                count(it->second.nodes, mark);
                return it->second.value;
            }
            case YAML_SCALAR_EVENT: {
                count(1, mark);
                Value v = scalar(mark);
                v.mark = mark;
                if (event_.data.scalar.anchor) anchors_[text_of(event_.data.scalar.anchor)] = {v, 1};
                return v;
            }
            case YAML_SEQUENCE_START_EVENT: {
                check_collection_tag(event_.data.sequence_start.tag, "seq", mark);
                enter(depth, mark);
                const std::string anchor = text_of(event_.data.sequence_start.anchor);
                const std::size_t before = nodes_;
                count(1, mark);
                data::List items;
                for (next(); event_.type != YAML_SEQUENCE_END_EVENT; next()) items.push_back(node(depth + 1));
                Value v(std::move(items));
                v.mark = mark;
                if (!anchor.empty()) anchors_[anchor] = {v, nodes_ - before};
                return v;
            }
            case YAML_MAPPING_START_EVENT: {
                check_collection_tag(event_.data.mapping_start.tag, "map", mark);
                enter(depth, mark);
                const std::string anchor = text_of(event_.data.mapping_start.anchor);
                const std::size_t before = nodes_;
                count(1, mark);
                Value v = mapping(mark, depth);
                if (!anchor.empty()) anchors_[anchor] = {v, nodes_ - before};
                return v;
            }
            default:
                throw Failure{"unexpected YAML event", mark};
        }
    }

    void count(std::size_t n, Mark mark) {
        nodes_ += n;
        if (nodes_ > static_cast<std::size_t>(limits_.yaml_max_nodes)) {
            throw Failure{limit_message("the document has more nodes (aliases expanded) than",
                                        limits_.yaml_max_nodes, "yaml_max_nodes"),
                          mark};
        }
    }

    void enter(std::size_t depth, Mark mark) const {
        if (depth >= static_cast<std::size_t>(limits_.yaml_max_depth)) {
            throw Failure{limit_message("collections nested deeper than", limits_.yaml_max_depth, "yaml_max_depth"),
                          mark};
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

    // A mapping under construction: Python dict semantics (a repeated key
    // keeps its last value in its first place). Past a few keys it is
    // indexed by key, so a mapping of n keys costs n lookups, not n*n
    // comparisons; small ones (most) allocate no index.
    class DictBuilder {
    public:
        void put(Value k, Value v) {
            if (items_.size() < kIndexFrom) {
                for (auto& [ek, ev] : items_) {
                    if (ek == k) {
                        ev = std::move(v);
                        return;
                    }
                }
                items_.emplace_back(std::move(k), std::move(v));
                if (items_.size() == kIndexFrom) {
                    for (std::size_t i = 0; i < items_.size(); ++i) index_.emplace(key_hash(items_[i].first), i);
                }
                return;
            }
            const std::size_t h = key_hash(k);
            auto [first, last] = index_.equal_range(h);
            for (auto it = first; it != last; ++it) {
                if (items_[it->second].first == k) {
                    items_[it->second].second = std::move(v);
                    return;
                }
            }
            index_.emplace(h, items_.size());
            items_.emplace_back(std::move(k), std::move(v));
        }
        bool empty() const { return items_.empty(); }
        const data::Dict& items() const { return items_; }
        data::Dict take() { return std::move(items_); }

    private:
        // Equal keys hash alike under Python's equality (1 == 1.0 == True).
        static std::size_t key_hash(const Value& k) {
            if (k.is_number()) {
                const double d = k.as_number();
                if (k.is_float() && d != std::floor(d)) return std::hash<double>{}(d);
                if (k.is_float() && std::abs(d) >= 9.2e18) return std::hash<double>{}(d);
                return std::hash<long long>{}(k.is_float() ? static_cast<long long>(d) : k.as_int());
            }
            if (k.is_str()) return std::hash<std::string>{}(k.as_str());
            if (k.kind() == data::Kind::kDate) return std::hash<std::string>{}(k.date_text());
            return static_cast<std::size_t>(k.kind());
        }

        static constexpr std::size_t kIndexFrom = 16;
        data::Dict items_;
        std::unordered_multimap<std::size_t, std::size_t> index_;  // key hash -> position, from kIndexFrom keys
    };

    Value mapping(Mark mark, std::size_t depth) {
        DictBuilder own;
        DictBuilder merged;  // from "<<": lower precedence than the mapping's own keys
        for (next(); event_.type != YAML_MAPPING_END_EVENT; next()) {
            const Mark key_mark = mark_of(event_.start_mark);
            const bool merge_key = event_.type == YAML_SCALAR_EVENT &&
                                   event_.data.scalar.plain_implicit && event_.data.scalar.tag == nullptr &&
                                   event_.data.scalar.length == 2 &&
                                   std::memcmp(event_.data.scalar.value, "<<", 2) == 0;
            Value key = node(depth + 1);
            next();
            Value value = node(depth + 1);
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
                    // Merged entries are copies: they count as nodes again.
                    count(src->as_dict().size(), key_mark);
                    for (const auto& [k, v] : src->as_dict()) merged.put(k, v);
                }
                continue;
            }
            if (key.is_list() || key.is_dict()) throw Failure{"found unhashable key", key_mark};
            // An empty value has no position of its own: use its key's.
            if (value.is_none() && value.mark.line == 0) value.mark = key_mark;
            own.put(std::move(key), std::move(value));
        }
        data::Dict out_items;
        if (merged.empty()) {
            out_items = own.take();
        } else {
            for (const auto& [k, v] : own.items()) merged.put(k, v);
            out_items = merged.take();
        }
        Value out(std::move(out_items));
        out.mark = mark;
        return out;
    }

    struct Anchored {
        Value value;
        std::size_t nodes = 0;  // what one use of its alias costs
    };

    const InputLimits& limits_ = input_limits();
    std::size_t nodes_ = 0;
    yaml_parser_t parser_{};
    yaml_event_t event_{};
    bool have_event_ = false;
    std::map<std::string, Anchored> anchors_;
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
        if (float_like(text)) return make_float(text);
        if (int_like(text)) return make_int(text);
        if (c >= '0' && c <= '9' && timestamp_like(text)) return Value::date(std::string(text));
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
