#include "common/yaml/load.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
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

// Base-60 "1:30:05" -> 5405 (PyYAML's sexagesimal ints and floats).
double sexagesimal(const std::string& digits) {
    double value = 0;
    std::size_t start = 0;
    while (true) {
        const auto colon = digits.find(':', start);
        value = value * 60 + std::stod(digits.substr(start, colon - start));
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    return value;
}

Value make_int(std::string_view text) {
    std::string s = without_underscores(text);
    int sign = 1;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        if (s[0] == '-') sign = -1;
        s.erase(0, 1);
    }
    if (s == "0") return Value(0);
    long long v = 0;
    if (s.rfind("0b", 0) == 0) {
        v = std::stoll(s.substr(2), nullptr, 2);
    } else if (s.rfind("0x", 0) == 0) {
        v = std::stoll(s.substr(2), nullptr, 16);
    } else if (s[0] == '0') {
        v = std::stoll(s, nullptr, 8);
    } else if (s.find(':') != std::string::npos) {
        v = static_cast<long long>(sexagesimal(s));
    } else {
        // Python ints are unbounded; beyond int64 we keep a float's magnitude.
        try {
            v = std::stoll(s);
        } catch (const std::out_of_range&) {
            return Value(sign * std::stod(s));
        }
    }
    return Value(sign * v);
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
    return Value(sign * std::stod(s));
}

Mark mark_of(const YAML::Node& n, Mark fallback) {
    const auto m = n.Mark();
    if (m.line < 0) return fallback;
    return Mark{m.line + 1, m.column + 1};
}

struct Failure {
    std::string problem;
    Mark mark;
};

const std::string kTagPrefix = "tag:yaml.org,2002:";

Value convert(const YAML::Node& node, Mark fallback);

Value scalar(const YAML::Node& node, Mark mark) {
    const std::string& tag = node.Tag();
    const std::string& text = node.Scalar();
    if (tag == "?" || tag.empty()) {
        auto r = resolve_plain(text);
        if (!r) throw Failure{r.error(), mark};
        return *r;
    }
    if (tag == "!" || tag == kTagPrefix + "str") return Value(text);
    const std::string_view kind =
        tag.rfind(kTagPrefix, 0) == 0 ? std::string_view(tag).substr(kTagPrefix.size()) : "";
    auto typed = resolve_plain(text);
    if (kind == "int" && typed && typed->kind() == data::Kind::kInt) return *typed;
    if (kind == "float" && typed && typed->is_number()) return Value(typed->as_number());
    if (kind == "bool" && typed && typed->is_bool()) return *typed;
    if (kind == "null" && typed && typed->is_none()) return *typed;
    if (kind == "timestamp" && typed && typed->kind() == data::Kind::kDate) return *typed;
    if (kind == "int" || kind == "float" || kind == "bool" || kind == "null" ||
        kind == "timestamp") {
        throw Failure{"'" + text + "' is not a valid !!" + std::string(kind), mark};
    }
    throw Failure{"could not determine a constructor for the tag '" + tag + "'", mark};
}

Value mapping(const YAML::Node& node, Mark mark) {
    const std::string& tag = node.Tag();
    if (!(tag == "?" || tag.empty() || tag == "!" || tag == kTagPrefix + "map")) {
        throw Failure{"could not determine a constructor for the tag '" + tag + "'", mark};
    }
    data::Dict own;
    data::Dict merged;  // from "<<", lower precedence than own keys
    auto put = [](data::Dict& d, Value k, Value v) {
        for (auto& [ek, ev] : d) {
            if (ek == k) {
                ev = std::move(v);  // a repeated key keeps its last value
                return;
            }
        }
        d.emplace_back(std::move(k), std::move(v));
    };
    for (auto it = node.begin(); it != node.end(); ++it) {
        const Mark key_mark = mark_of(it->first, mark);
        if (it->first.IsScalar() && it->first.Scalar() == "<<" &&
            (it->first.Tag() == "?" || it->first.Tag() == kTagPrefix + "merge")) {
            Value src = convert(it->second, key_mark);
            std::vector<Value> sources;
            if (src.is_dict()) {
                sources.push_back(src);
            } else if (src.is_list()) {
                sources = src.as_list();
            }
            if (sources.empty() && !src.is_dict()) {
                throw Failure{"expected a mapping or list of mappings for merging", key_mark};
            }
            // Earlier sources win over later ones.
            for (auto s = sources.rbegin(); s != sources.rend(); ++s) {
                if (!s->is_dict()) {
                    throw Failure{"expected a mapping for merging", key_mark};
                }
                for (const auto& [k, v] : s->as_dict()) put(merged, k, v);
            }
            continue;
        }
        Value key = convert(it->first, key_mark);
        if (key.is_list() || key.is_dict()) {
            throw Failure{"found unhashable key", key_mark};
        }
        Value value = convert(it->second, key_mark);
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

Value convert(const YAML::Node& node, Mark fallback) {
    const Mark mark = mark_of(node, fallback);
    Value out;
    switch (node.Type()) {
        case YAML::NodeType::Undefined:
        case YAML::NodeType::Null:
            // yaml-cpp places an empty value at the next token; the key is clearer.
            out = Value::none();
            out.mark = fallback;
            return out;
        case YAML::NodeType::Scalar:
            out = scalar(node, mark);
            break;
        case YAML::NodeType::Sequence: {
            data::List items;
            items.reserve(node.size());
            for (const auto& child : node) items.push_back(convert(child, mark));
            out = Value(std::move(items));
            break;
        }
        case YAML::NodeType::Map:
            return mapping(node, mark);
    }
    out.mark = mark;
    return out;
}

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
        const YAML::Node root = YAML::Load(std::string(text));
        return convert(root, Mark{1, 1});
    } catch (const Failure& f) {
        return LoadFailure{f.problem, f.mark};
    } catch (const YAML::Exception& e) {
        return LoadFailure{e.msg, Mark{e.mark.line + 1, e.mark.column + 1}};
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
