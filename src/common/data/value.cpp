#include "common/data/value.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace lava::common::data {

Kind Value::kind() const {
    switch (v_.index()) {
        case 0: return Kind::kNone;
        case 1: return Kind::kBool;
        case 2: return Kind::kInt;
        case 3: return Kind::kFloat;
        case 4: return Kind::kStr;
        case 5: return std::get<ListBox>(v_).is_tuple ? Kind::kTuple : Kind::kList;
        case 6: return Kind::kDict;
        case 7: return Kind::kUndefined;
        default: return Kind::kDate;
    }
}

Value::ListBox Value::make_list(List l, bool is_tuple) {
    std::uint32_t depth = 0;
    for (const auto& item : l) depth = std::max(depth, item.depth());
    return ListBox{std::make_shared<const List>(std::move(l)), is_tuple, depth + 1};
}

Value::DictBox Value::make_dict(Dict d) {
    std::uint32_t depth = 0;
    for (const auto& [k, v] : d) depth = std::max({depth, k.depth(), v.depth()});
    return DictBox{std::make_shared<const Dict>(std::move(d)), depth + 1};
}

std::uint32_t Value::depth() const {
    if (const auto* l = std::get_if<ListBox>(&v_)) return l->depth;
    if (const auto* d = std::get_if<DictBox>(&v_)) return d->depth;
    return 0;
}

std::int64_t Value::as_int() const {
    if (const bool* b = std::get_if<bool>(&v_)) return *b ? 1 : 0;
    return std::get<std::int64_t>(v_);
}

double Value::as_number() const {
    if (const double* d = std::get_if<double>(&v_)) return *d;
    return static_cast<double>(as_int());
}

const Value* Value::find(const Value& key) const {
    if (!is_dict()) return nullptr;
    // Python dicts keep the last value of a repeated key; our builders never
    // store duplicates, so the first match is the only one.
    for (const auto& [k, v] : as_dict()) {
        if (k == key) return &v;
    }
    return nullptr;
}

const Value* Value::find(std::string_view key) const {
    if (!is_dict()) return nullptr;
    for (const auto& [k, v] : as_dict()) {
        if (k.is_str() && k.as_str() == key) return &v;
    }
    return nullptr;
}

bool Value::truthy() const {
    switch (kind()) {
        case Kind::kUndefined:
        case Kind::kNone: return false;
        case Kind::kBool: return as_bool();
        case Kind::kInt: return as_int() != 0;
        case Kind::kFloat: return as_number() != 0.0;
        case Kind::kStr: return !as_str().empty();
        case Kind::kList:
        case Kind::kTuple: return !as_list().empty();
        case Kind::kDict: return !as_dict().empty();
        case Kind::kDate: return true;
    }
    return false;
}

bool operator==(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return a.as_number() == b.as_number();
        return a.as_int() == b.as_int();
    }
    const Kind ka = a.kind();
    const Kind kb = b.kind();
    if (ka != kb) return false;
    switch (ka) {
        case Kind::kUndefined:
        case Kind::kNone: return true;
        case Kind::kStr: return a.as_str() == b.as_str();
        case Kind::kList:
        case Kind::kTuple: return a.as_list() == b.as_list();
        case Kind::kDict: {
            const auto& da = a.as_dict();
            const auto& db = b.as_dict();
            if (da.size() != db.size()) return false;
            for (const auto& [k, v] : da) {
                const Value* other = b.find(k);
                if (other == nullptr || !(*other == v)) return false;
            }
            return true;
        }
        case Kind::kDate: return a.date_text() == b.date_text();
        default: return false;
    }
}

Value with_item(const Value& dict, std::string_view key, Value value) {
    Dict d;
    bool placed = false;
    for (const auto& [k, v] : dict.as_dict()) {
        if (k.is_str() && k.as_str() == key) {
            d.emplace_back(k, value);
            placed = true;
        } else {
            d.emplace_back(k, v);
        }
    }
    if (!placed) d.emplace_back(Value(key), std::move(value));
    return Value(std::move(d));
}

std::string python_float_repr(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    // Shortest digits that round-trip, then Python's layout: positional when
    // -4 <= exponent < 16, scientific otherwise.
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    const auto e_pos = sci.find('e');
    std::string mantissa = sci.substr(0, e_pos);
    const int exponent = std::stoi(sci.substr(e_pos + 1));
    const bool negative = mantissa[0] == '-';
    if (negative) mantissa.erase(0, 1);
    std::string digits;
    for (char c : mantissa) {
        if (c != '.') digits += c;
    }
    std::string out = negative ? "-" : "";
    if (exponent >= -4 && exponent < 16) {
        if (exponent < 0) {
            out += "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
        } else {
            const auto int_len = static_cast<std::size_t>(exponent + 1);
            if (digits.size() <= int_len) {
                out += digits + std::string(int_len - digits.size(), '0') + ".0";
            } else {
                out += digits.substr(0, int_len) + "." + digits.substr(int_len);
            }
        }
        return out;
    }
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char exp_buf[16];
    std::snprintf(exp_buf, sizeof exp_buf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    return out + exp_buf;
}

std::string python_str_repr(std::string_view s) {
    // Python prefers single quotes, and switches to double quotes when the
    // string holds a single quote but no double quote.
    const bool has_single = s.find('\'') != std::string_view::npos;
    const bool has_double = s.find('"') != std::string_view::npos;
    const char quote = (has_single && !has_double) ? '"' : '\'';
    std::string out(1, quote);
    for (unsigned char c : s) {
        switch (c) {
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c == static_cast<unsigned char>(quote)) {
                    out += '\\';
                    out += static_cast<char>(c);
                } else if (c < 0x20 || c == 0x7f) {
                    char hex[8];
                    std::snprintf(hex, sizeof hex, "\\x%02x", c);
                    out += hex;
                } else {
                    out += static_cast<char>(c);  // UTF-8 passes through, as printable
                }
        }
    }
    out += quote;
    return out;
}

bool Value::append_repr(std::string& out, std::size_t max_size) const {
    auto put = [&](std::string_view text) {
        if (out.size() + text.size() > max_size) {
            out.append(text.substr(0, max_size - std::min(max_size, out.size())));
            return false;
        }
        out.append(text);
        return true;
    };
    switch (kind()) {
        case Kind::kUndefined: return put("Undefined");  // Jinja2's Undefined.__repr__
        case Kind::kNone: return put("None");
        case Kind::kBool: return put(as_bool() ? "True" : "False");
        case Kind::kInt: return put(std::to_string(as_int()));
        case Kind::kFloat: return put(python_float_repr(as_number()));
        case Kind::kStr:
            // Escaping at most quadruples a string: decide before building it.
            if (out.size() + as_str().size() > max_size) return put(as_str());
            return put(python_str_repr(as_str()));
        case Kind::kList:
        case Kind::kTuple: {
            const bool tuple = is_tuple();
            if (!put(tuple ? "(" : "[")) return false;
            const auto& items = as_list();
            for (std::size_t i = 0; i < items.size(); ++i) {
                if (i && !put(", ")) return false;
                if (!items[i].append_repr(out, max_size)) return false;
            }
            if (tuple && items.size() == 1 && !put(",")) return false;
            return put(tuple ? ")" : "]");
        }
        case Kind::kDict: {
            if (!put("{")) return false;
            bool first = true;
            for (const auto& [k, v] : as_dict()) {
                if (!first && !put(", ")) return false;
                first = false;
                if (!k.append_repr(out, max_size) || !put(": ") || !v.append_repr(out, max_size)) return false;
            }
            return put("}");
        }
        case Kind::kDate: return put("datetime.date(" + date_text() + ")");
    }
    return true;
}

bool Value::append_str(std::string& out, std::size_t max_size) const {
    std::string_view text;
    switch (kind()) {
        case Kind::kUndefined: return true;
        case Kind::kStr: text = as_str(); break;
        case Kind::kDate: text = date_text(); break;
        default: return append_repr(out, max_size);
    }
    if (out.size() + text.size() > max_size) {
        out.append(text.substr(0, max_size - std::min(max_size, out.size())));
        return false;
    }
    out.append(text);
    return true;
}

std::string Value::repr() const {
    std::string out;
    append_repr(out, std::string::npos);
    return out;
}

std::string Value::str() const {
    std::string out;
    append_str(out, std::string::npos);
    return out;
}

std::string_view Value::type_name() const {
    switch (kind()) {
        case Kind::kUndefined: return "Undefined";
        case Kind::kNone: return "NoneType";
        case Kind::kBool: return "bool";
        case Kind::kInt: return "int";
        case Kind::kFloat: return "float";
        case Kind::kStr: return "str";
        case Kind::kList: return "list";
        case Kind::kTuple: return "tuple";
        case Kind::kDict: return "dict";
        case Kind::kDate: return "date";
    }
    return "object";
}

}  // namespace lava::common::data
