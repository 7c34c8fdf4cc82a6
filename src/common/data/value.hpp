#pragma once
// A dynamically typed value with Python's data model: what PyYAML's
// SafeLoader produces from a LAVA job or device configuration, and what a
// Jinja2 template computes with. Kinds: undefined (Jinja2 only), None, bool,
// int, float, str, list, tuple, dict (insertion-ordered), date (a YAML
// timestamp; only its kind matters to schemas).
//
// Values are immutable once built and cheap to copy (containers are shared).
// Equality, truthiness and repr() follow Python, because LAVA's schemas
// (voluptuous) and templates (Jinja2) are defined by Python's behaviour:
// 1 == 1.0 == True, bool is an int, {'a': 1} prints as {'a': 1}.
// Safe to share between threads.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace lava::common::data {

// A position in a source text, 1-based; line 0 means unknown.
struct Mark {
    int line = 0;
    int column = 0;
};

class Value;
using List = std::vector<Value>;
using Dict = std::vector<std::pair<Value, Value>>;

enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kStr, kList, kTuple, kDict, kDate };

class Value {
public:
    struct Undefined {
        std::string name;  // what was looked up, for error messages
    };
    struct Date {
        std::string text;
    };

    Value() : v_(None{}) {}  // None
    Value(bool b) : v_(b) {}
    Value(int i) : v_(static_cast<std::int64_t>(i)) {}
    Value(long i) : v_(static_cast<std::int64_t>(i)) {}
    Value(long long i) : v_(static_cast<std::int64_t>(i)) {}
    Value(double d) : v_(d) {}
    Value(std::string s) : v_(StrBox{std::make_shared<const std::string>(std::move(s)), false}) {}
    Value(std::string_view s) : Value(std::string(s)) {}
    Value(const char* s) : Value(std::string(s)) {}
    Value(List l) : v_(make_list(std::move(l), false)) {}
    Value(Dict d) : v_(make_dict(std::move(d))) {}

    static Value none() { return Value(); }
    static Value undefined(std::string name = {}) { return Value(Undefined{std::move(name)}); }
    static Value tuple(List l) {
        Value v;
        v.v_ = make_list(std::move(l), true);
        return v;
    }
    static Value date(std::string text) { return Value(Date{std::move(text)}); }
    // A string marked safe for HTML (Jinja2's Markup): a str in every other
    // respect, equal to the same text unmarked; only templates rendered with
    // autoescape look at the mark.
    static Value safe(std::string s) {
        Value v;
        v.v_ = StrBox{std::make_shared<const std::string>(std::move(s)), true};
        return v;
    }

    Kind kind() const;
    bool is_undefined() const { return kind() == Kind::kUndefined; }
    bool is_none() const { return kind() == Kind::kNone; }
    bool is_bool() const { return kind() == Kind::kBool; }
    // Python's isinstance(v, int): bools are ints.
    bool is_int() const { return kind() == Kind::kInt || kind() == Kind::kBool; }
    bool is_float() const { return kind() == Kind::kFloat; }
    // int, bool or float.
    bool is_number() const { return is_int() || is_float(); }
    bool is_str() const { return kind() == Kind::kStr; }
    bool is_list() const { return kind() == Kind::kList; }
    bool is_tuple() const { return kind() == Kind::kTuple; }
    bool is_sequence() const { return is_list() || is_tuple(); }
    bool is_dict() const { return kind() == Kind::kDict; }

    bool as_bool() const { return std::get<bool>(v_); }
    // The int value of an int or a bool.
    std::int64_t as_int() const;
    // The value of any number as a double.
    double as_number() const;
    const std::string& as_str() const { return *std::get<StrBox>(v_).text; }
    bool is_safe() const {
        const auto* s = std::get_if<StrBox>(&v_);
        return s && s->safe;
    }
    const List& as_list() const { return *std::get<ListBox>(v_).items; }  // list or tuple
    const Dict& as_dict() const { return *std::get<DictBox>(v_).items; }
    // How deeply containers nest in this value: 0 for a scalar, 1 for a
    // flat list or dict. Known at construction, so checking it costs nothing.
    std::uint32_t depth() const;
    const std::string& undefined_name() const { return std::get<Undefined>(v_).name; }
    const std::string& date_text() const { return std::get<Date>(v_).text; }

    // Dict lookup with Python key equality; nullptr when absent or not a dict.
    const Value* find(const Value& key) const;
    const Value* find(std::string_view key) const;
    const Value* find(const char* key) const { return find(std::string_view(key)); }
    const Value* find(const std::string& key) const { return find(std::string_view(key)); }
    bool contains(std::string_view key) const { return find(key) != nullptr; }

    // Python's bool(v). Undefined is false.
    bool truthy() const;
    // Python's ==.
    friend bool operator==(const Value& a, const Value& b);
    // Python's repr(): 'a', 1, True, None, ['a', 1], {'k': 'v'}, (1,).
    std::string repr() const;
    // Python's str(): like repr() but strings are unquoted; undefined is "".
    std::string str() const;
    // Appends repr() (or str()) to `out` unless that would make `out` longer
    // than `max_size`; false then, with `out` holding part of it. For
    // renderers that must not build an unbounded text from a small value
    // (a list holding one large string many times).
    bool append_repr(std::string& out, std::size_t max_size) const;
    bool append_str(std::string& out, std::size_t max_size) const;
    // Python's type name for messages: "str", "int", "dict", ...
    std::string_view type_name() const;

    Mark mark;

private:
    struct None {};
    struct StrBox {
        std::shared_ptr<const std::string> text;
        bool safe = false;
    };
    struct ListBox {
        std::shared_ptr<const List> items;
        bool is_tuple = false;
        std::uint32_t depth = 1;
    };
    struct DictBox {
        std::shared_ptr<const Dict> items;
        std::uint32_t depth = 1;
    };
    static ListBox make_list(List l, bool is_tuple);
    static DictBox make_dict(Dict d);

    explicit Value(Undefined u) : v_(std::move(u)) {}
    explicit Value(Date d) : v_(std::move(d)) {}

    std::variant<None, bool, std::int64_t, double, StrBox, ListBox, DictBox, Undefined, Date> v_;
};

// A copy of the dict `dict` with `key` set to `value` (in place when the
// key is there, appended otherwise): dict(d, key=value), order kept.
Value with_item(const Value& dict, std::string_view key, Value value);

// Formats a float as Python's repr() does (shortest round-trip: 1.0, 0.1, 1e+20).
std::string python_float_repr(double d);

// Quotes a string as Python's repr() does ('a', "it's", 'a\nb').
std::string python_str_repr(std::string_view s);

}  // namespace lava::common::data
