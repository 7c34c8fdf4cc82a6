// Rendering: executes parsed templates with Jinja2's semantics (inheritance,
// scoping, Undefined, Python operators), plus the loaders and Environment.

#include "common/jinja/ast.hpp"

#include "common/base/limits.hpp"
#include "common/base/text.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace lava::common::jinja {
namespace {

using data::Dict;
using data::Kind;
using data::List;
using data::Value;

// A render-time failure at a line; the renderer adds the template name.
struct Failure {
    int line;
    std::string message;
};

[[noreturn]] void fail(int line, std::string message) { throw Failure{line, std::move(message)}; }

// ------------------------------------------------------------------ limits

// What one render (with the templates it includes) has done so far, against
// the process's InputLimits: the work it did (loop iterations; items created,
// compared or searched), the text it produced or built, and how deeply
// includes, extends and block calls nest. Lives on the rendering thread for
// one call of run(); the helpers below reach it through t_budget, so that
// the free functions (operators, filters) are bounded too.
struct Budget {
    const InputLimits& limits = input_limits();
    long long steps = 0;
    long long text = 0;
    int depth = 0;
};
thread_local Budget* t_budget = nullptr;

// Counts `n` items of work.
void charge(int line, std::size_t n) {
    Budget& b = *t_budget;
    b.steps += static_cast<long long>(n);
    if (b.steps > b.limits.jinja_max_iterations) {
        fail(line, limit_message("the template does more loop iterations and item operations than",
                                 b.limits.jinja_max_iterations, "jinja_max_iterations"));
    }
}

[[noreturn]] void fail_text(int line) {
    fail(line, limit_message("the template produces or builds more text than", t_budget->limits.jinja_max_output_bytes,
                             "jinja_max_output_bytes", "bytes"));
}

// Counts `n` bytes of text about to be built.
void charge_text(int line, std::size_t n) {
    Budget& b = *t_budget;
    if (n > static_cast<std::size_t>(b.limits.jinja_max_output_bytes)) fail_text(line);
    b.text += static_cast<long long>(n);
    if (b.text > b.limits.jinja_max_output_bytes) fail_text(line);
}

// How many more bytes of text this render may build.
std::size_t text_left() {
    const Budget& b = *t_budget;
    return static_cast<std::size_t>(std::max(0LL, b.limits.jinja_max_output_bytes - b.text));
}

// out += piece, counted.
void append(int line, std::string& out, std::string_view piece) {
    charge_text(line, piece.size());
    out.append(piece);
}

// out += str(v), counted, without building more than the budget allows.
void append_str(int line, std::string& out, const Value& v) {
    const std::size_t before = out.size();
    const bool whole = v.append_str(out, before + text_left());
    charge_text(line, out.size() - before);
    if (!whole) fail_text(line);
}

// str(v), counted.
std::string text_of(int line, const Value& v) {
    if (v.is_str()) return v.as_str();  // shares nothing new: already counted when built
    std::string out;
    append_str(line, out, v);
    return out;
}

// repr(v) for a message: at most a few hundred bytes.
std::string short_repr(const Value& v) {
    std::string out;
    if (!v.append_repr(out, 200)) out += "...";
    return out;
}

// A string a filter or method made from its input, counted.
Value made(int line, std::string s) {
    charge_text(line, s.size());
    return Value(std::move(s));
}

// A safe string a filter made, counted.
Value safe_made(int line, std::string s) {
    charge_text(line, s.size());
    return Value::safe(std::move(s));
}

// Part of a safe string is safe (Markup's [] and slices).
Value keep_mark(const Value& from, Value part) {
    return from.is_safe() && part.is_str() && !part.is_safe() ? Value::safe(part.as_str()) : part;
}

// A string argument given to a safe string's filter, escaped unless it is
// safe itself; other values as they are.
Value escaped(int line, const Value& v) {
    if (!v.is_str() || v.is_safe()) return v;
    return safe_made(line, html_escape(v.as_str()));
}

// str(v) as HTML: a safe string as it is, anything else escaped.
std::string html_text(int line, const Value& v) {
    return v.is_safe() ? v.as_str() : html_escape(text_of(line, v));
}

// a ~ b (or a + b) when one of them is safe: the other escaped, the result safe.
Value markup_join(int line, const Value& a, const Value& b) {
    std::string out;
    append(line, out, html_text(line, a));
    append(line, out, html_text(line, b));
    return Value::safe(std::move(out));
}

// Nesting of containers in a value the template built.
const Value& checked_depth(int line, const Value& v) {
    if (v.depth() > static_cast<std::uint32_t>(t_budget->limits.jinja_max_depth)) {
        fail(line, limit_message("a value nests lists and dicts deeper than", t_budget->limits.jinja_max_depth,
                                 "jinja_max_depth"));
    }
    return v;
}

// Integer arithmetic with Python's results where int64 holds them, and an
// error where Python would go on with a big int.
[[noreturn]] void fail_overflow(int line) { fail(line, "integer overflow (lava-cpp's integers are 64-bit)"); }

long long add_int(int line, long long a, long long b) {
    long long r = 0;
    if (__builtin_add_overflow(a, b, &r)) fail_overflow(line);
    return r;
}
long long sub_int(int line, long long a, long long b) {
    long long r = 0;
    if (__builtin_sub_overflow(a, b, &r)) fail_overflow(line);
    return r;
}
long long mul_int(int line, long long a, long long b) {
    long long r = 0;
    if (__builtin_mul_overflow(a, b, &r)) fail_overflow(line);
    return r;
}

// int(d) for a float, where an int64 holds it.
long long float_to_int(int line, double d) {
    if (std::isnan(d)) fail(line, "cannot convert float NaN to integer");
    if (!(d > -9223372036854775808.0 && d < 9223372036854775808.0)) fail_overflow(line);
    return static_cast<long long>(d);
}

// Python's ==, counting the items it compares.
bool py_eq(int line, const Value& a, const Value& b) {
    charge(line, 1);
    if (a.is_sequence() && b.is_sequence()) {
        if (a.is_tuple() != b.is_tuple()) return false;
        const auto& x = a.as_list();
        const auto& y = b.as_list();
        if (x.size() != y.size()) return false;
        for (std::size_t i = 0; i < x.size(); ++i) {
            if (!py_eq(line, x[i], y[i])) return false;
        }
        return true;
    }
    if (a.is_dict() && b.is_dict()) {
        if (a.as_dict().size() != b.as_dict().size()) return false;
        for (const auto& [k, v] : a.as_dict()) {
            charge(line, b.as_dict().size());
            const Value* other = b.find(k);
            if (!other || !py_eq(line, *other, v)) return false;
        }
        return true;
    }
    return a == b;  // scalars
}

// dict lookups scan the dict: counted.
const Value* find_key(int line, const Value& dict, const Value& key) {
    charge(line, dict.is_dict() ? dict.as_dict().size() : 0);
    return dict.find(key);
}
const Value* find_key(int line, const Value& dict, const std::string& key) {
    charge(line, dict.is_dict() ? dict.as_dict().size() : 0);
    return dict.find(key);
}

// A list of `n` new items, counted before it is built.
List reserved(int line, std::size_t n) {
    charge(line, n);
    List out;
    out.reserve(n);
    return out;
}

std::string qname(const Value& v) {
    switch (v.kind()) {
        case Kind::kDict: return "dict object";
        case Kind::kList: return "list object";
        case Kind::kTuple: return "tuple object";
        case Kind::kStr: return "str object";
        case Kind::kInt: return "int object";
        case Kind::kFloat: return "float object";
        case Kind::kBool: return "bool object";
        case Kind::kNone: return "None";
        default: return "object";
    }
}

// An Undefined that remembers why it is undefined, for Jinja2's messages.
Value undefined_attr(const Value& obj, const std::string& attr) {
    return Value::undefined("'" + qname(obj) + "' has no attribute '" + attr + "'");
}
Value undefined_name(const std::string& name) { return Value::undefined("'" + name + "' is undefined"); }

[[noreturn]] void fail_undefined(int line, const Value& v) {
    fail(line, v.undefined_name().empty() ? "undefined value" : v.undefined_name());
}

void require_defined(int line, const Value& v) {
    if (v.is_undefined()) fail_undefined(line, v);
}

std::string type_of(const Value& v) { return std::string(v.type_name()); }

// ------------------------------------------------------------------ Python operators

Value py_add(int line, const Value& a, const Value& b) {
    require_defined(line, a);
    require_defined(line, b);
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return Value(a.as_number() + b.as_number());
        return Value(add_int(line, a.as_int(), b.as_int()));
    }
    if (a.is_str() && b.is_str()) {
        std::string out;
        append(line, out, a.as_str());
        append(line, out, b.as_str());
        return Value(std::move(out));
    }
    if ((a.is_list() && b.is_list()) || (a.is_tuple() && b.is_tuple())) {
        List out = reserved(line, a.as_list().size() + b.as_list().size());
        out.insert(out.end(), a.as_list().begin(), a.as_list().end());
        out.insert(out.end(), b.as_list().begin(), b.as_list().end());
        return a.is_tuple() ? Value::tuple(std::move(out)) : Value(std::move(out));
    }
    fail(line, "unsupported operand type(s) for +: '" + type_of(a) + "' and '" + type_of(b) + "'");
}

double floor_mod(double a, double b) {
    double m = std::fmod(a, b);
    if (m != 0 && ((m < 0) != (b < 0))) m += b;
    return m;
}

Value py_arith(int line, const std::string& op, const Value& a, const Value& b) {
    require_defined(line, a);
    require_defined(line, b);
    if (op == "*" && ((a.is_str() && b.is_int()) || (a.is_int() && b.is_str()))) {
        const std::string& s = a.is_str() ? a.as_str() : b.as_str();
        const long long n = a.is_str() ? b.as_int() : a.as_int();
        std::string out;
        if (n <= 0 || s.empty()) return Value(out);
        // Sized before it is built: 'x' * 10**12 fails at once.
        if (static_cast<unsigned long long>(n) > text_left() / s.size()) fail_text(line);
        charge_text(line, s.size() * static_cast<std::size_t>(n));
        out.reserve(s.size() * static_cast<std::size_t>(n));
        for (long long i = 0; i < n; ++i) out += s;
        return Value(out);
    }
    if (op == "*" && ((a.is_sequence() && b.is_int()) || (a.is_int() && b.is_sequence()))) {
        const Value& seq = a.is_sequence() ? a : b;
        const long long n = std::max<long long>(0, a.is_sequence() ? b.as_int() : a.as_int());
        const std::size_t len = seq.as_list().size();
        // len * n items, counted before the product could overflow: past the
        // budget, one more than the budget is what is charged (and refused).
        const auto cap = static_cast<std::size_t>(t_budget->limits.jinja_max_iterations);
        const bool past = len && static_cast<std::size_t>(n) > cap / len;
        List out = reserved(line, past ? cap + 1 : len * static_cast<std::size_t>(n));
        // n copies of nothing is nothing: no loop over n (found by tools/fuzz: [] * 10**10).
        for (long long i = 0; len > 0 && i < n; ++i) out.insert(out.end(), seq.as_list().begin(), seq.as_list().end());
        return seq.is_tuple() ? Value::tuple(std::move(out)) : Value(std::move(out));
    }
    if (!a.is_number() || !b.is_number()) {
        fail(line, "unsupported operand type(s) for " + op + ": '" + type_of(a) + "' and '" +
                       type_of(b) + "'");
    }
    const bool ints = !a.is_float() && !b.is_float();
    const double x = a.as_number(), y = b.as_number();
    if (op == "-") return ints ? Value(sub_int(line, a.as_int(), b.as_int())) : Value(x - y);
    if (op == "*") return ints ? Value(mul_int(line, a.as_int(), b.as_int())) : Value(x * y);
    if (op == "/") {
        if (y == 0) fail(line, "division by zero");
        return Value(x / y);
    }
    if (op == "//") {
        if (y == 0) fail(line, "integer division or modulo by zero");
        if (ints) {
            if (a.as_int() == INT64_MIN && b.as_int() == -1) fail_overflow(line);
            long long q = a.as_int() / b.as_int();
            if ((a.as_int() % b.as_int() != 0) && ((a.as_int() < 0) != (b.as_int() < 0))) --q;
            return Value(q);
        }
        return Value(std::floor(x / y));
    }
    if (op == "%") {
        if (y == 0) fail(line, "integer division or modulo by zero");
        if (ints) {
            if (b.as_int() == -1) return Value(0);
            long long m = a.as_int() % b.as_int();
            if (m != 0 && ((m < 0) != (b.as_int() < 0))) m += b.as_int();
            return Value(m);
        }
        return Value(floor_mod(x, y));
    }
    if (op == "**") {
        if (ints && b.as_int() >= 0) {
            // Square and multiply: at most 63 rounds before an overflow.
            long long result = 1, base = a.as_int();
            for (long long e = b.as_int(); e > 0; e >>= 1) {
                if (e & 1) result = mul_int(line, result, base);
                if (e > 1) base = mul_int(line, base, base);
            }
            return Value(result);
        }
        return Value(std::pow(x, y));
    }
    fail(line, "unknown operator " + op);
}

// Python's <, with its TypeError for unordered types.
bool py_less(int line, const Value& a, const Value& b, const char* op) {
    require_defined(line, a);
    require_defined(line, b);
    charge(line, 1);
    if (a.is_number() && b.is_number()) {
        if (!a.is_float() && !b.is_float()) return a.as_int() < b.as_int();
        return a.as_number() < b.as_number();
    }
    if (a.is_str() && b.is_str()) return a.as_str() < b.as_str();
    if ((a.is_list() && b.is_list()) || (a.is_tuple() && b.is_tuple())) {
        const auto& x = a.as_list();
        const auto& y = b.as_list();
        for (std::size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
            if (!py_eq(line, x[i], y[i])) return py_less(line, x[i], y[i], op);
        }
        return x.size() < y.size();
    }
    fail(line, std::string("'") + op + "' not supported between instances of '" + type_of(a) +
                   "' and '" + type_of(b) + "'");
}

bool py_in(int line, const Value& needle, const Value& hay) {
    switch (hay.kind()) {
        case Kind::kUndefined: return false;  // iterating an Undefined yields nothing
        case Kind::kStr:
            if (!needle.is_str()) {
                fail(line, "'in <string>' requires string as left operand, not " + type_of(needle));
            }
            return hay.as_str().find(needle.as_str()) != std::string::npos;
        case Kind::kList:
        case Kind::kTuple:
            for (const auto& item : hay.as_list()) {
                if (py_eq(line, needle, item)) return true;
            }
            return false;
        case Kind::kDict: return find_key(line, hay, needle) != nullptr;
        default: fail(line, "argument of type '" + type_of(hay) + "' is not iterable");
    }
}

// Python iteration: the items of a list/tuple, the keys of a dict, the
// characters of a string; nothing for an Undefined.
List iterate(int line, const Value& v) {
    switch (v.kind()) {
        case Kind::kUndefined: return {};
        case Kind::kList:
        case Kind::kTuple: charge(line, v.as_list().size()); return v.as_list();
        case Kind::kDict: {
            List keys = reserved(line, v.as_dict().size());
            for (const auto& [k, val] : v.as_dict()) keys.push_back(k);
            return keys;
        }
        case Kind::kStr: {
            const std::string& s = v.as_str();
            List chars = reserved(line, s.size());
            for (std::size_t i = 0; i < s.size();) {
                std::size_t n = 1;
                const unsigned char c = static_cast<unsigned char>(s[i]);
                if (c >= 0xF0) n = 4;
                else if (c >= 0xE0) n = 3;
                else if (c >= 0xC0) n = 2;
                chars.emplace_back(s.substr(i, n));
                i += n;
            }
            return chars;
        }
        default: fail(line, "'" + type_of(v) + "' object is not iterable");
    }
}

std::string py_strip(const std::string& s, const std::string* chars, bool left, bool right) {
    auto strip_it = [&](unsigned char c) {
        if (chars) return chars->find(static_cast<char>(c)) != std::string::npos;
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
    };
    std::size_t b = 0, e = s.size();
    if (left) {
        while (b < e && strip_it(static_cast<unsigned char>(s[b]))) ++b;
    }
    if (right) {
        while (e > b && strip_it(static_cast<unsigned char>(s[e - 1]))) --e;
    }
    return s.substr(b, e - b);
}

std::string ascii_case(std::string s, bool upper) {
    for (char& c : s) c = static_cast<char>(upper ? std::toupper(static_cast<unsigned char>(c))
                                                  : std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string py_replace(int line, const std::string& s, const std::string& old, const std::string& repl,
                       long long count) {
    if (old.empty()) {
        // Python inserts the replacement around every character.
        std::string out;
        long long n = 0;
        for (const auto& ch : iterate(line, Value(s))) {
            if (count < 0 || n < count) {
                append(line, out, repl);
                ++n;
            }
            append(line, out, ch.as_str());
        }
        if (count < 0 || n < count) append(line, out, repl);
        return out;
    }
    std::string out;
    std::size_t pos = 0;
    long long n = 0;
    while (count < 0 || n < count) {
        const std::size_t f = s.find(old, pos);
        if (f == std::string::npos) break;
        append(line, out, std::string_view(s).substr(pos, f - pos));
        append(line, out, repl);
        pos = f + old.size();
        ++n;
    }
    append(line, out, std::string_view(s).substr(pos));
    return out;
}

List py_split(int line, const std::string& s, const std::string* sep, long long maxsplit) {
    List out;
    auto part = [&](std::string text) {
        charge(line, 1);
        out.emplace_back(std::move(text));
    };
    if (sep) {
        if (sep->empty()) fail(line, "empty separator");
        std::size_t pos = 0;
        long long n = 0;
        while (maxsplit < 0 || n < maxsplit) {
            const std::size_t f = s.find(*sep, pos);
            if (f == std::string::npos) break;
            part(s.substr(pos, f - pos));
            pos = f + sep->size();
            ++n;
        }
        part(s.substr(pos));
        return out;
    }
    std::size_t i = 0;
    long long n = 0;
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
    while (i < s.size()) {
        while (i < s.size() && space(s[i])) ++i;
        if (i >= s.size()) break;
        if (maxsplit >= 0 && n >= maxsplit) {
            std::string rest = s.substr(i);
            while (!rest.empty() && space(rest.back())) rest.pop_back();
            part(rest);
            break;
        }
        std::size_t j = i;
        while (j < s.size() && !space(s[j])) ++j;
        part(s.substr(i, j - i));
        ++n;
        i = j;
    }
    return out;
}

// Lines as Python's str.splitlines() finds them (after Jinja's normalisation).
std::vector<std::string> splitlines(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == '\x1c' || c == '\x1d' || c == '\x1e') {
            out.push_back(s.substr(start, i - start));
            if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
            start = i + 1;
        }
    }
    if (start < s.size()) out.push_back(s.substr(start));
    return out;
}

std::string shlex_quote(const std::string& s) {
    if (s.empty()) return "''";
    const bool safe = std::all_of(s.begin(), s.end(), [](unsigned char c) {
        return std::isalnum(c) || std::strchr("@%+=:,./-_", c) != nullptr;
    });
    if (safe) return s;
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') out += "'\"'\"'";
        else out += c;
    }
    return out + "'";
}

// ------------------------------------------------------------------ call arguments

struct CallArgs {
    std::vector<Value> pos;
    std::vector<std::pair<std::string, Value>> kw;

    // The argument at `index` or named `name`, if given.
    const Value* get(std::size_t index, const char* name) const {
        if (index < pos.size()) return &pos[index];
        for (const auto& [k, v] : kw) {
            if (k == name) return &v;
        }
        return nullptr;
    }
};

std::int64_t int_arg(int line, const Value* v, std::int64_t fallback) {
    if (!v) return fallback;
    if (!v->is_int()) fail(line, "expected an integer argument, got " + type_of(*v));
    return v->as_int();
}

// ------------------------------------------------------------------ filters and tests

// Jinja2's url_quote: UTF-8 bytes percent-encoded but for A-Z a-z 0-9 _.-~
// and (outside a query string) '/'; in a query string ' ' becomes '+'.
std::string url_quote(int line, const std::string& s, bool for_qs) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (const unsigned char c : s) {
        const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                           c == '.' || c == '-' || c == '~' || (c == '/' && !for_qs);
        if (plain) {
            out += static_cast<char>(c);
        } else if (c == ' ' && for_qs) {
            out += '+';
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    charge_text(line, out.size());
    return out;
}

Value filter(int line, const std::string& name, const Value& v, const CallArgs& a) {
    if (name == "urlencode") {
        if (v.is_str()) return Value(url_quote(line, v.as_str(), false));
        if (v.is_dict() || v.is_sequence()) {
            std::string out;
            const List items = v.is_dict() ? List{} : iterate(line, v);
            auto pair = [&](const Value& k, const Value& val) {
                if (!out.empty()) out += '&';
                out += url_quote(line, text_of(line, k), true) + "=" + url_quote(line, text_of(line, val), true);
            };
            if (v.is_dict()) {
                for (const auto& [k, val] : v.as_dict()) pair(k, val);
            } else {
                for (const auto& item : items) {
                    const List kv = iterate(line, item);
                    if (kv.size() != 2) fail(line, "urlencode expects (key, value) pairs");
                    pair(kv[0], kv[1]);
                }
            }
            return Value(out);
        }
        return Value(url_quote(line, text_of(line, v), false));
    }
    if (name == "default" || name == "d") {
        const Value* fallback = a.get(0, "default_value");
        const Value* boolean = a.get(1, "boolean");
        const bool use = v.is_undefined() || (boolean && boolean->truthy() && !v.truthy());
        if (use) return fallback ? *fallback : Value("");
        return v;
    }
    if (name == "join") {
        const Value* sep = a.get(0, "d");
        const Value* attribute = a.get(1, "attribute");
        const std::string separator = sep ? text_of(line, *sep) : "";
        const std::string field_name = attribute ? text_of(line, *attribute) : "";
        std::string out;
        bool first = true;
        for (const auto& item : iterate(line, v)) {
            if (!first) append(line, out, separator);
            first = false;
            if (attribute) {
                if (const Value* field = find_key(line, item, field_name)) append_str(line, out, *field);
            } else {
                append_str(line, out, item);
            }
        }
        return Value(out);
    }
    if (name == "indent") {
        const Value* width = a.get(0, "width");
        const Value* first = a.get(1, "first");
        const Value* blank = a.get(2, "blank");
        std::string indention;
        if (width && width->is_str()) {
            indention = width->as_str();
        } else {
            const long long n = std::max<long long>(0, int_arg(line, width, 4));
            if (static_cast<unsigned long long>(n) > text_left()) fail_text(line);
            indention.assign(static_cast<std::size_t>(n), ' ');
        }
        // Jinja2's indent works on strings only (it appends "\n" and splits lines).
        require_defined(line, v);
        if (!v.is_str()) fail(line, "'" + type_of(v) + "' object has no attribute 'splitlines'");
        const auto lines = splitlines(v.as_str() + "\n");
        charge(line, lines.size());
        std::string rv;
        if (first && first->truthy()) append(line, rv, indention);
        if (blank && blank->truthy()) {
            for (std::size_t i = 0; i < lines.size(); ++i) {
                if (i) {
                    append(line, rv, "\n");
                    append(line, rv, indention);
                }
                append(line, rv, lines[i]);
            }
        } else if (!lines.empty()) {
            append(line, rv, lines.front());
            for (std::size_t i = 1; i < lines.size(); ++i) {
                append(line, rv, "\n");
                if (!lines[i].empty()) append(line, rv, indention);
                append(line, rv, lines[i]);
            }
        }
        return Value(rv);
    }
    if (name == "replace") {
        const Value* old = a.get(0, "old");
        const Value* repl = a.get(1, "new");
        const Value* count = a.get(2, "count");
        if (!old || !repl) fail(line, "replace() needs the old and new strings");
        require_defined(line, v);
        return Value(py_replace(line, text_of(line, v), text_of(line, *old), text_of(line, *repl),
                                count && !count->is_none() ? int_arg(line, count, -1) : -1));
    }
    if (name == "string") return v.is_str() ? v : made(line, text_of(line, v));
    if (name == "lower" || name == "upper") return made(line, ascii_case(text_of(line, v), name == "upper"));
    if (name == "capitalize") {
        std::string s = ascii_case(text_of(line, v), false);
        if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
        return made(line, std::move(s));
    }
    if (name == "title") {
        std::string s = text_of(line, v);
        bool start = true;
        for (char& c : s) {
            const bool alpha = std::isalpha(static_cast<unsigned char>(c));
            c = static_cast<char>(start ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
            start = !alpha;
        }
        return made(line, std::move(s));
    }
    if (name == "trim") {
        const Value* chars = a.get(0, "chars");
        std::string set = chars && !chars->is_none() ? text_of(line, *chars) : "";
        return made(line, py_strip(text_of(line, v), chars && !chars->is_none() ? &set : nullptr, true, true));
    }
    if (name == "int") {
        const Value* fallback = a.get(0, "default");
        const Value* base = a.get(1, "base");
        const Value dflt = fallback ? *fallback : Value(0);
        require_defined(line, v);  // int(Undefined) raises in Jinja2
        if (v.is_int()) return Value(v.as_int());
        if (v.is_float()) return Value(float_to_int(line, v.as_number()));
        if (v.is_str()) {
            std::string s = py_strip(v.as_str(), nullptr, true, true);
            try {
                std::size_t used = 0;
                const long long r = std::stoll(s, &used, static_cast<int>(int_arg(line, base, 10)));
                if (used == s.size()) return Value(r);
            } catch (...) {
            }
            try {
                std::size_t used = 0;
                const double d = std::stod(s, &used);
                if (used == s.size() && std::isfinite(d)) return Value(float_to_int(line, d));
            } catch (...) {
            }
        }
        return dflt;
    }
    if (name == "float") {
        const Value* fallback = a.get(0, "default");
        require_defined(line, v);
        if (v.is_number()) return Value(v.as_number());
        if (v.is_str()) {
            try {
                std::size_t used = 0;
                const std::string s = py_strip(v.as_str(), nullptr, true, true);
                const double d = std::stod(s, &used);
                if (used == s.size()) return Value(d);
            } catch (...) {
            }
        }
        return fallback ? *fallback : Value(0.0);
    }
    if (name == "length" || name == "count") {
        if (v.is_str()) return Value(static_cast<long long>(iterate(line, v).size()));
        if (v.is_sequence()) return Value(static_cast<long long>(v.as_list().size()));
        if (v.is_dict()) return Value(static_cast<long long>(v.as_dict().size()));
        if (v.is_undefined()) return Value(0);
        fail(line, "object of type '" + type_of(v) + "' has no len()");
    }
    if (name == "first" || name == "last") {
        const List items = iterate(line, v);
        if (items.empty()) return Value::undefined("No first item, sequence was empty.");
        return name == "first" ? items.front() : items.back();
    }
    if (name == "list") return Value(iterate(line, v));
    if (name == "reverse") {
        if (v.is_str()) {
            List chars = iterate(line, v);
            std::string out;
            for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += it->as_str();
            return made(line, std::move(out));
        }
        List items = iterate(line, v);
        std::reverse(items.begin(), items.end());
        return Value(items);
    }
    if (name == "sort") {
        List items = iterate(line, v);
        const Value* reverse = a.get(0, "reverse");
        std::stable_sort(items.begin(), items.end(),
                         [&](const Value& x, const Value& y) { return py_less(line, x, y, "<"); });
        if (reverse && reverse->truthy()) std::reverse(items.begin(), items.end());
        return Value(items);
    }
    if (name == "unique") {
        List out;
        for (const auto& item : iterate(line, v)) {
            bool seen = false;
            for (const auto& kept : out) {
                if ((seen = py_eq(line, kept, item))) break;
            }
            if (!seen) out.push_back(item);
        }
        return Value(out);
    }
    if (name == "abs") {
        if (!v.is_number()) fail(line, "bad operand type for abs(): '" + type_of(v) + "'");
        if (v.is_float()) return Value(std::fabs(v.as_number()));
        if (v.as_int() == INT64_MIN) fail_overflow(line);
        return Value(static_cast<long long>(std::llabs(v.as_int())));
    }
    if (name == "items") {
        if (v.is_undefined()) return Value(List{});
        if (!v.is_dict()) fail(line, "items() needs a mapping");
        List out = reserved(line, v.as_dict().size());
        for (const auto& [k, val] : v.as_dict()) out.push_back(Value::tuple({k, val}));
        return Value(out);
    }
    if (name == "shlex_quote") return made(line, shlex_quote(text_of(line, v)));
    if (name == "yaml_quote") return made(line, json_quote(text_of(line, v)));
    if (name == "qemu_guest_fs_interface") {
        const Value* iface = a.get(0, "guestfs_interface");
        if (iface && iface->truthy()) return *iface;
        static const char* const kX86[] = {"amd64", "x86_64", "i386", "i686", "x86"};
        const std::string arch = text_of(line, v);
        for (const char* x : kX86) {
            if (arch == x) return Value("ide");
        }
        return Value("virtio");
    }
    fail(line, "no filter named '" + name + "'");
}

bool test(int line, const std::string& name, const Value& v, const CallArgs& a) {
    const Value* arg = a.get(0, "value");
    auto need = [&]() -> const Value& {
        if (!arg) fail(line, "test '" + name + "' needs an argument");
        return *arg;
    };
    if (name == "defined") return !v.is_undefined();
    if (name == "undefined") return v.is_undefined();
    if (name == "none") return v.is_none();
    if (name == "string") return v.is_str();
    if (name == "number") return v.is_number();
    if (name == "integer") return v.kind() == Kind::kInt;
    if (name == "float") return v.is_float();
    if (name == "boolean") return v.is_bool();
    if (name == "true") return v.is_bool() && v.as_bool();
    if (name == "false") return v.is_bool() && !v.as_bool();
    if (name == "mapping") return v.is_dict();
    if (name == "sequence") return v.is_str() || v.is_sequence() || v.is_dict();
    if (name == "iterable") return v.is_str() || v.is_sequence() || v.is_dict() || v.is_undefined();
    if (name == "callable") return false;
    if (name == "lower") return v.is_str() && ascii_case(v.as_str(), false) == v.as_str();
    if (name == "upper") return v.is_str() && ascii_case(v.as_str(), true) == v.as_str();
    if (name == "even" || name == "odd") {
        if (!v.is_int()) fail(line, "test '" + name + "' needs an integer");
        return (v.as_int() % 2 == 0) == (name == "even");
    }
    if (name == "divisibleby") {
        const Value& n = need();
        if (!v.is_int() || !n.is_int() || n.as_int() == 0) fail(line, "divisibleby needs non-zero integers");
        return v.as_int() % n.as_int() == 0;
    }
    if (name == "sameas") {
        // Python identity: meaningful for None, True and False.
        const Value& other = need();
        return v.kind() == other.kind() && py_eq(line, v, other);
    }
    if (name == "eq" || name == "equalto" || name == "==") return py_eq(line, v, need());
    if (name == "ne" || name == "!=") return !py_eq(line, v, need());
    if (name == "lt" || name == "lessthan" || name == "<") return py_less(line, v, need(), "<");
    if (name == "gt" || name == "greaterthan" || name == ">") return py_less(line, need(), v, ">");
    if (name == "le" || name == "<=") return !py_less(line, need(), v, "<=");
    if (name == "ge" || name == ">=") return !py_less(line, v, need(), ">=");
    if (name == "in") return py_in(line, v, need());
    fail(line, "no test named '" + name + "'");
}

// ------------------------------------------------------------------ scopes

// The variables of one frame. Lookups walk up to the template's context.
// A frame with many variables (a large context) is indexed, so a lookup
// costs the same whatever the number of variables.
struct Scope;

// A macro as a scope holds it: its definition and the scope it was defined
// in (which outlives every scope that can name it).
struct Macro {
    const Node* node;
    const Scope* home;
};

struct Scope {
    explicit Scope(Scope* up = nullptr) : parent(up) {}
    std::vector<std::pair<std::string, Value>> vars;
    // Macros and imported templates are not values (nothing can store or
    // print them); they are found by name as variables are.
    std::vector<std::pair<std::string, Macro>> macros;
    std::vector<std::pair<std::string, const Scope*>> modules;
    std::unordered_map<std::string, std::size_t> index;  // name -> position in vars, once vars is large
    Scope* parent;

    static constexpr std::size_t kIndexFrom = 16;

    const Value* own(const std::string& name) const {
        if (!index.empty()) {
            auto it = index.find(name);
            return it == index.end() ? nullptr : &vars[it->second].second;
        }
        for (auto it = vars.rbegin(); it != vars.rend(); ++it) {
            if (it->first == name) return &it->second;
        }
        return nullptr;
    }
    const Value* find(const std::string& name) const {
        for (const Scope* s = this; s; s = s->parent) {
            if (const Value* v = s->own(name)) return v;
        }
        return nullptr;
    }
    void set(const std::string& name, Value v) {
        if (Value* existing = const_cast<Value*>(own(name))) {
            *existing = std::move(v);
            return;
        }
        vars.emplace_back(name, std::move(v));
        if (!index.empty()) {
            index.emplace(name, vars.size() - 1);
        } else if (vars.size() > kIndexFrom) {
            for (std::size_t i = 0; i < vars.size(); ++i) index.emplace(vars[i].first, i);
        }
    }
    // The macro (or, with `modules`, the imported template) a name calls:
    // the innermost binding of the name, when that is one.
    template <typename T>
    static const T* innermost(const Scope* from, const std::string& name,
                              std::vector<std::pair<std::string, T>> Scope::*table) {
        for (const Scope* s = from; s; s = s->parent) {
            if (s->own(name)) return nullptr;
            for (auto it = (s->*table).rbegin(); it != (s->*table).rend(); ++it) {
                if (it->first == name) return &it->second;
            }
        }
        return nullptr;
    }
    const Macro* macro(const std::string& name) const { return innermost(this, name, &Scope::macros); }
    // A macro this scope itself defines or imported.
    const Macro* own_macro(const std::string& name) const {
        for (auto it = macros.rbegin(); it != macros.rend(); ++it) {
            if (it->first == name) return &it->second;
        }
        return nullptr;
    }
    const Scope* const* module(const std::string& name) const { return innermost(this, name, &Scope::modules); }

    // Every visible variable, inner ones winning (for includes).
    Dict flatten() const {
        std::vector<const Scope*> chain;
        for (const Scope* s = this; s; s = s->parent) chain.push_back(s);
        Dict out;
        std::unordered_map<std::string, std::size_t> at;
        for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
            for (const auto& [k, v] : (*it)->vars) {
                if (auto found = at.find(k); found != at.end()) {
                    out[found->second].second = v;
                } else {
                    at.emplace(k, out.size());
                    out.emplace_back(Value(k), v);
                }
            }
        }
        return out;
    }
};

// ------------------------------------------------------------------ the renderer

class Renderer {
public:
    Renderer(const Environment& env, const Dict& vars) : env_(env), html_(env.autoescape()) {
        for (const auto& [k, v] : vars) context_.set(k.str(), v);
    }

    std::string render(std::shared_ptr<const Template> tpl) {
        std::string out;
        std::shared_ptr<const Template> current = std::move(tpl);
        Deeper guard(0);
        for (bool first = true; current; first = false) {
            if (!first) guard.again(0);  // each {% extends %} nests one level
            keep_.push_back(current);
            for (const auto& [name, node] : current->blocks) blocks_[name].push_back({node, current.get()});
            std::shared_ptr<const Template> parent;
            std::string* sink = &out;
            run_top(*current, sink, parent);
            current = parent;
        }
        return out;
    }

    // The template that was executing when a failure was thrown.
    std::string failed_template() const {
        if (!failed_template_.empty()) return failed_template_;
        return template_stack_.empty() ? std::string("<template>") : template_stack_.back();
    }

private:
    struct BlockRef {
        const Node* node;
        const Template* owner;
    };
    struct ActiveBlock {
        std::string name;
        std::size_t level;
    };

    // One more level of include/extends/block-call nesting, for as long as
    // it lives.
    struct Deeper {
        int added = 0;
        explicit Deeper(int line) { again(line); }
        ~Deeper() { t_budget->depth -= added; }
        Deeper(const Deeper&) = delete;
        Deeper& operator=(const Deeper&) = delete;
        void again(int line) {
            ++added;
            if (++t_budget->depth > t_budget->limits.jinja_max_depth) {
                fail(line, limit_message("includes, extends and block calls nested deeper than",
                                         t_budget->limits.jinja_max_depth, "jinja_max_depth"));
            }
        }
    };

    struct TemplateGuard {
        Renderer& r;
        TemplateGuard(Renderer& renderer, const std::string& name) : r(renderer) {
            r.template_stack_.push_back(name);
        }
        ~TemplateGuard() {
            // The innermost template of a failure is remembered as the stack unwinds.
            if (std::uncaught_exceptions() > 0 && r.failed_template_.empty()) {
                r.failed_template_ = r.template_stack_.back();
            }
            r.template_stack_.pop_back();
        }
    };

    // Text the template produced itself (a block, super(), a {% set %}
    // block): safe under autoescape, as Jinja2 makes it Markup.
    Value text(std::string s) const { return html_ ? Value::safe(std::move(s)) : Value(std::move(s)); }

    void run_top(const Template& tpl, std::string*& sink, std::shared_ptr<const Template>& parent) {
        TemplateGuard guard(*this, tpl.name);
        for (const auto& node : tpl.body) {
            if (node->kind == Node::Kind::kExtends) {
                if (parent) fail(node->line, "extended multiple times");
                const std::string target = text_of(node->line, eval(*node->expr, context_));
                parent = env_.get(target);
                if (!parent) fail(node->line, "template '" + target + "' not found");
                sink = nullptr;  // a child's own output after {% extends %} is not rendered
                continue;
            }
            exec(*node, context_, sink);
        }
    }

    void exec_body(const Body& body, Scope& scope, std::string* out) {
        for (const auto& node : body) exec(*node, scope, out);
    }

    void exec(const Node& n, Scope& scope, std::string* out) {
        switch (n.kind) {
            case Node::Kind::kText:
                if (out) append(n.line, *out, n.text);
                return;
            case Node::Kind::kPrint: {
                const Value v = eval(*n.expr, scope);
                if (!out) return;
                if (html_) {
                    append(n.line, *out, html_text(n.line, v));
                } else {
                    append_str(n.line, *out, v);
                }
                return;
            }
            case Node::Kind::kIf:
                for (const auto& [cond, body] : n.branches) {
                    if (!cond || eval(*cond, scope).truthy()) {
                        exec_body(body, scope, out);
                        return;
                    }
                }
                return;
            case Node::Kind::kFor: return exec_for(n, scope, out);
            case Node::Kind::kSet: {
                Value v;
                if (n.expr) {
                    v = eval(*n.expr, scope);
                } else {
                    std::string captured;
                    Scope inner(&scope);
                    exec_body(n.body, inner, &captured);
                    v = text(std::move(captured));
                }
                assign(n.line, n.targets, v, scope);
                return;
            }
            case Node::Kind::kBlock:
                if (out) render_block(n.text, 0, *out, n.line);
                return;
            case Node::Kind::kExtends:
                fail(n.line, "{% extends %} must be at the top level of a template");
            case Node::Kind::kInclude: {
                const std::string target = text_of(n.line, eval(*n.expr, scope));
                auto tpl = env_.get(target);
                if (!tpl) {
                    if (n.text == "ignore missing") return;
                    fail(n.line, "template '" + target + "' not found");
                }
                Deeper guard(n.line);
                Renderer inner(env_, scope.flatten());
                const std::string text = inner.render(tpl);  // its text is counted as it is made
                if (out) out->append(text);
                return;
            }
            case Node::Kind::kMacro:
                scope.macros.emplace_back(n.text, Macro{&n, &scope});
                return;
            case Node::Kind::kImport: {
                const Scope& module = import(n, scope);
                if (n.names.empty()) {
                    scope.modules.emplace_back(n.text, &module);
                    return;
                }
                for (const auto& [name, alias] : n.names) {
                    if (const Macro* m = module.own_macro(name)) {
                        scope.macros.emplace_back(alias, *m);
                    } else if (const Value* v = module.own(name)) {
                        scope.set(alias, *v);
                    } else {  // as Jinja2: an error only when it is used
                        scope.set(alias, Value::undefined("the template does not export the requested name '" +
                                                          name + "'"));
                    }
                }
                return;
            }
            case Node::Kind::kFilterBlock: {
                std::string captured;
                Scope inner(&scope);
                exec_body(n.body, inner, &captured);
                Scope with_body(&scope);
                with_body.set(filter_body_name(), text(std::move(captured)));
                const Value v = eval(*n.expr, with_body);
                if (out) append_str(n.line, *out, v);
                return;
            }
        }
    }

    // Runs a template's top level (its macros, imports and `set`s; its text
    // is not rendered) into a scope of its own that lives as long as the
    // render: what `import` and `from ... import` bind from.
    const Scope& import(const Node& n, Scope& scope) {
        const std::string target = text_of(n.line, eval(*n.expr, scope));
        auto tpl = env_.get(target);
        if (!tpl) fail(n.line, "template '" + target + "' not found");
        Deeper guard(n.line);
        keep_.push_back(tpl);
        modules_.push_back(std::make_unique<Scope>(&context_));
        Scope& module = *modules_.back();
        TemplateGuard in(*this, tpl->name);
        for (const auto& node : tpl->body) {
            if (node->kind == Node::Kind::kExtends) fail(node->line, "an imported template cannot extend another");
            exec(*node, module, nullptr);
        }
        return module;
    }

    // A macro's body with its parameters bound, as text (safe under
    // autoescape, as Jinja2 returns Markup). It sees the scope it was defined
    // in (the template's variables), not the caller's locals.
    Value call_macro(int line, const Macro& m, const CallArgs& args) {
        const Node& def = *m.node;
        charge(line, 1);
        Deeper guard(line);
        if (args.pos.size() > def.params.size()) {
            fail(line, "macro '" + def.text + "' takes not more than " + std::to_string(def.params.size()) +
                           " argument(s)");
        }
        for (const auto& kw : args.kw) {
            const bool known = std::any_of(def.params.begin(), def.params.end(),
                                           [&](const auto& p) { return p.first == kw.first; });
            if (!known) fail(line, "macro '" + def.text + "' takes no keyword argument '" + kw.first + "'");
        }
        Scope local(const_cast<Scope*>(m.home));
        for (std::size_t i = 0; i < def.params.size(); ++i) {
            const auto& [name, fallback] = def.params[i];
            const Value* given = i < args.pos.size() ? &args.pos[i] : nullptr;
            for (const auto& [k, v] : args.kw) {
                if (k != name) continue;
                if (given) fail(line, "macro '" + def.text + "' takes no keyword argument '" + name + "'");
                given = &v;
            }
            if (given) {
                local.set(name, *given);
            } else if (fallback) {
                local.set(name, eval(*fallback, local));
            } else {
                local.set(name, Value::undefined("parameter '" + name + "' was not provided"));
            }
        }
        std::string out;
        exec_body(def.body, local, &out);
        return text(std::move(out));
    }

    void assign(int line, const std::vector<std::string>& targets, const Value& v, Scope& scope) {
        if (targets.size() == 1) {
            scope.set(targets.front(), v);
            return;
        }
        const List items = iterate(line, v);
        if (items.size() != targets.size()) {
            fail(line, "cannot unpack " + std::to_string(items.size()) + " values into " +
                           std::to_string(targets.size()) + " names");
        }
        for (std::size_t i = 0; i < targets.size(); ++i) scope.set(targets[i], items[i]);
    }

    void exec_for(const Node& n, Scope& scope, std::string* out) {
        List items = iterate(n.line, eval(*n.expr, scope));
        if (n.condition) {
            List kept;
            for (const auto& item : items) {
                charge(n.line, 1);
                Scope test_scope(&scope);
                assign(n.line, n.targets, item, test_scope);
                if (eval(*n.condition, test_scope).truthy()) kept.push_back(item);
            }
            items = std::move(kept);
        }
        const long long length = static_cast<long long>(items.size());
        for (long long i = 0; i < length; ++i) {
            // Each iteration starts afresh: a {% set %} in the body does not
            // carry over to the next iteration, nor out of the loop.
            charge(n.line, 1);
            Scope loop_scope(&scope);
            assign(n.line, n.targets, items[static_cast<std::size_t>(i)], loop_scope);
            Dict loop{{Value("index"), Value(i + 1)},
                      {Value("index0"), Value(i)},
                      {Value("revindex"), Value(length - i)},
                      {Value("revindex0"), Value(length - i - 1)},
                      {Value("first"), Value(i == 0)},
                      {Value("last"), Value(i == length - 1)},
                      {Value("length"), Value(length)},
                      {Value("depth"), Value(1)},
                      {Value("depth0"), Value(0)}};
            if (i > 0) loop.emplace_back(Value("previtem"), items[static_cast<std::size_t>(i - 1)]);
            if (i + 1 < length) loop.emplace_back(Value("nextitem"), items[static_cast<std::size_t>(i + 1)]);
            loop_scope.set("loop", Value(std::move(loop)));
            exec_body(n.body, loop_scope, out);
        }
        if (length == 0) exec_body(n.else_body, scope, out);
    }

    void render_block(const std::string& name, std::size_t level, std::string& out, int line) {
        auto it = blocks_.find(name);
        if (it == blocks_.end() || level >= it->second.size()) fail(line, "no block named '" + name + "'");
        const BlockRef& ref = it->second[level];
        // A block sees the template's context, not the locals around its placeholder.
        Deeper deeper(line);
        Scope scope(&context_);
        active_.push_back({name, level});
        TemplateGuard guard(*this, ref.owner->name);
        exec_body(ref.node->body, scope, &out);
        active_.pop_back();
    }

    CallArgs eval_args(const Args& args, Scope& scope) {
        CallArgs out;
        for (const auto& e : args.positional) out.pos.push_back(eval(*e, scope));
        for (const auto& [k, e] : args.keyword) out.kw.emplace_back(k, eval(*e, scope));
        return out;
    }

    Value getattr(int line, const Value& obj, const std::string& attr) {
        require_defined(line, obj);
        if (obj.is_dict()) {
            if (const Value* v = find_key(line, obj, attr)) return *v;
        }
        return undefined_attr(obj, attr);
    }

    Value getitem(int line, const Value& obj, const Value& key) {
        require_defined(line, obj);
        if (obj.is_dict()) {
            if (const Value* v = find_key(line, obj, key)) return *v;
            return Value::undefined("'" + qname(obj) + "' has no attribute " + short_repr(key));
        }
        if ((obj.is_sequence() || obj.is_str()) && key.is_int()) {
            const List chars = obj.is_str() ? iterate(line, obj) : List{};
            const List& items = obj.is_str() ? chars : obj.as_list();
            long long i = key.as_int();
            if (i < 0) i += static_cast<long long>(items.size());
            if (i >= 0 && i < static_cast<long long>(items.size())) return items[static_cast<std::size_t>(i)];
            return Value::undefined(qname(obj) + " has no element " + short_repr(key));
        }
        if (key.is_str()) return getattr(line, obj, key.as_str());
        return Value::undefined(qname(obj) + " has no element " + short_repr(key));
    }

    Value slice(int line, const Value& obj, const Value* start, const Value* stop) {
        require_defined(line, obj);
        if (!obj.is_str() && !obj.is_sequence()) fail(line, "'" + type_of(obj) + "' object is not subscriptable");
        const List chars = obj.is_str() ? iterate(line, obj) : List{};
        const List& items = obj.is_str() ? chars : obj.as_list();
        const long long n = static_cast<long long>(items.size());
        auto clamp = [&](const Value* v, long long fallback) {
            if (!v || v->is_none()) return fallback;
            if (!v->is_int()) fail(line, "slice indices must be integers or None");
            long long i = v->as_int();
            if (i < 0) i = std::max(-n, i) + n;
            return std::clamp(i, 0LL, n);
        };
        const long long b = clamp(start, 0), e = clamp(stop, n);
        List out = reserved(line, static_cast<std::size_t>(std::max(0LL, e - b)));
        for (long long i = b; i < e; ++i) out.push_back(items[static_cast<std::size_t>(i)]);
        if (obj.is_str()) {
            std::string s;
            for (const auto& c : out) s += c.as_str();
            return made(line, std::move(s));
        }
        return obj.is_tuple() ? Value::tuple(std::move(out)) : Value(std::move(out));
    }

    // obj.name(args): the methods of Python's dict, str and list that templates use.
    Value call_method(int line, const Value& obj, const std::string& name, const CallArgs& a) {
        require_defined(line, obj);
        const Value* a0 = a.get(0, "");
        const Value* a1 = a.get(1, "");
        if (obj.is_dict()) {
            if (name == "get") {
                if (!a0) fail(line, "get expected at least 1 argument");
                if (const Value* v = find_key(line, obj, *a0)) return *v;
                return a1 ? *a1 : Value::none();
            }
            if (name == "items" || name == "keys" || name == "values") {
                List out = reserved(line, obj.as_dict().size());
                for (const auto& [k, v] : obj.as_dict()) {
                    out.push_back(name == "items" ? Value::tuple({k, v}) : name == "keys" ? k : v);
                }
                return Value(out);
            }
        }
        if (obj.is_str()) {
            const std::string& s = obj.as_str();
            if (name == "startswith" || name == "endswith") {
                if (!a0) fail(line, name + " expected 1 argument");
                List prefixes = a0->is_tuple() ? a0->as_list() : List{*a0};
                charge(line, prefixes.size());
                for (const auto& p : prefixes) {
                    const std::string x = text_of(line, p);
                    const bool hit = name == "startswith" ? s.rfind(x, 0) == 0
                                                          : s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
                    if (hit) return Value(true);
                }
                return Value(false);
            }
            if (name == "lower" || name == "upper") return made(line, ascii_case(s, name == "upper"));
            if (name == "strip" || name == "lstrip" || name == "rstrip") {
                std::string chars = a0 && !a0->is_none() ? text_of(line, *a0) : "";
                return made(line, py_strip(s, a0 && !a0->is_none() ? &chars : nullptr, name != "rstrip", name != "lstrip"));
            }
            if (name == "replace") {
                if (!a0 || !a1) fail(line, "replace expected at least 2 arguments");
                const Value* count = a.get(2, "");
                return Value(py_replace(line, s, text_of(line, *a0), text_of(line, *a1), count ? int_arg(line, count, -1) : -1));
            }
            if (name == "split") {
                std::string sep = a0 && !a0->is_none() ? text_of(line, *a0) : "";
                const Value* maxsplit = a.get(1, "maxsplit");
                return Value(py_split(line, s, a0 && !a0->is_none() ? &sep : nullptr, maxsplit ? int_arg(line, maxsplit, -1) : -1));
            }
            if (name == "join") {
                if (!a0) fail(line, "join expected 1 argument");
                std::string out;
                bool first = true;
                for (const auto& item : iterate(line, *a0)) {
                    if (!item.is_str()) fail(line, "sequence item: expected str instance, " + type_of(item) + " found");
                    if (!first) append(line, out, s);
                    first = false;
                    append(line, out, item.as_str());
                }
                return Value(out);
            }
            if (name == "format") {
                std::string out;
                std::size_t next = 0;
                for (std::size_t i = 0; i < s.size(); ++i) {
                    if (s[i] == '{' && i + 1 < s.size() && s[i + 1] == '}') {
                        if (next >= a.pos.size()) fail(line, "not enough arguments for format()");
                        append_str(line, out, a.pos[next++]);
                        ++i;
                    } else {
                        append(line, out, std::string_view(&s[i], 1));
                    }
                }
                return Value(out);
            }
            if (name == "count") {
                if (!a0) fail(line, "count expected 1 argument");
                const std::string needle = text_of(line, *a0);
                long long c = 0;
                for (std::size_t p = 0; !needle.empty() && (p = s.find(needle, p)) != std::string::npos; p += needle.size()) ++c;
                return Value(c);
            }
        }
        if (obj.is_sequence()) {
            if (name == "index" && a0) {
                const auto& items = obj.as_list();
                for (std::size_t i = 0; i < items.size(); ++i) {
                    if (py_eq(line, items[i], *a0)) return Value(static_cast<long long>(i));
                }
                fail(line, short_repr(*a0) + " is not in list");
            }
            if (name == "count" && a0) {
                long long n = 0;
                for (const auto& item : obj.as_list()) n += py_eq(line, item, *a0) ? 1 : 0;
                return Value(n);
            }
        }
        const Value attr = getattr(line, obj, name);
        if (attr.is_undefined()) fail(line, attr.undefined_name());
        fail(line, "'" + type_of(attr) + "' object is not callable");
    }

    Value call(const Expr& e, Scope& scope) {
        const Expr& callee = *e.a;
        if (callee.kind == Expr::Kind::kName && callee.name == "super") {
            if (active_.empty()) fail(e.line, "super() outside of a block");
            const ActiveBlock cur = active_.back();
            std::string out;
            render_block(cur.name, cur.level + 1, out, e.line);
            return text(std::move(out));
        }
        if (callee.kind == Expr::Kind::kGetattr && callee.a->kind == Expr::Kind::kName &&
            callee.a->name == "self" && !scope.find("self")) {
            std::string out;
            render_block(callee.name, 0, out, e.line);
            return text(std::move(out));
        }
        const CallArgs args = eval_args(e.args, scope);
        if (callee.kind == Expr::Kind::kName) {
            if (const Macro* m = scope.macro(callee.name)) return call_macro(e.line, *m, args);
        }
        if (callee.kind == Expr::Kind::kGetattr && callee.a->kind == Expr::Kind::kName) {
            if (const Scope* const* module = scope.module(callee.a->name)) {
                const Macro* m = (*module)->own_macro(callee.name);
                if (!m) {
                    fail(e.line, "the template imported as '" + callee.a->name + "' has no macro '" + callee.name + "'");
                }
                return call_macro(e.line, *m, args);
            }
        }
        if (callee.kind == Expr::Kind::kGetattr) {
            return call_method(e.line, eval(*callee.a, scope), callee.name, args);
        }
        if (callee.kind == Expr::Kind::kName && !scope.find(callee.name)) {
            if (callee.name == "range") {
                long long start = 0, stop = 0, step = 1;
                if (args.pos.size() == 1) {
                    stop = int_arg(e.line, &args.pos[0], 0);
                } else if (args.pos.size() >= 2) {
                    start = int_arg(e.line, &args.pos[0], 0);
                    stop = int_arg(e.line, &args.pos[1], 0);
                    if (args.pos.size() > 2) step = int_arg(e.line, &args.pos[2], 1);
                }
                if (step == 0) fail(e.line, "range() arg 3 must not be zero");
                // The length first (in unsigned arithmetic: no overflow), then the list.
                using U = unsigned long long;
                const bool up = step > 0;
                const U span = up ? (start < stop ? static_cast<U>(stop) - static_cast<U>(start) : 0)
                                  : (start > stop ? static_cast<U>(start) - static_cast<U>(stop) : 0);
                const U stride = up ? static_cast<U>(step) : U{0} - static_cast<U>(step);
                const U count = span == 0 ? 0 : (span - 1) / stride + 1;
                const long long limit = t_budget->limits.jinja_max_range;
                if (count > static_cast<U>(limit)) {
                    fail(e.line, limit_message("range() of more items than", limit, "jinja_max_range"));
                }
                List out = reserved(e.line, static_cast<std::size_t>(count));
                for (U i = 0; i < count; ++i) {
                    out.emplace_back(static_cast<long long>(static_cast<U>(start) + i * static_cast<U>(step)));
                }
                return Value(out);
            }
            if (callee.name == "dict") {
                Dict out;
                for (const auto& [k, v] : args.kw) out.emplace_back(Value(k), v);
                return Value(out);
            }
        }
        const Value f = eval(callee, scope);
        if (f.is_undefined()) fail_undefined(e.line, f);
        fail(e.line, "'" + type_of(f) + "' object is not callable");
    }

    // Every value an expression builds is checked for how deeply it nests,
    // so printing, comparing or freeing it never recurses without bound.
    Value eval(const Expr& e, Scope& scope) {
        Value v = eval_expr(e, scope);
        checked_depth(e.line, v);
        return v;
    }

    Value eval_expr(const Expr& e, Scope& scope) {
        switch (e.kind) {
            case Expr::Kind::kLiteral: return e.value;
            case Expr::Kind::kName: {
                if (const Value* v = scope.find(e.name)) return *v;
                return undefined_name(e.name);
            }
            case Expr::Kind::kGetattr: return getattr(e.line, eval(*e.a, scope), e.name);
            case Expr::Kind::kGetitem: {
                const Value obj = eval(*e.a, scope);
                return keep_mark(obj, getitem(e.line, obj, eval(*e.b, scope)));
            }
            case Expr::Kind::kSlice: {
                const Value obj = eval(*e.a, scope);
                Value start, stop;
                if (e.b) start = eval(*e.b, scope);
                if (e.c) stop = eval(*e.c, scope);
                return keep_mark(obj, slice(e.line, obj, e.b ? &start : nullptr, e.c ? &stop : nullptr));
            }
            case Expr::Kind::kCall: return call(e, scope);
            case Expr::Kind::kFilter: {
                const Value v = eval(*e.a, scope);
                if (e.name == "safe") return v.is_safe() ? v : Value::safe(text_of(e.line, v));
                if (e.name == "e" || e.name == "escape") {
                    return v.is_safe() ? v : safe_made(e.line, html_escape(text_of(e.line, v)));
                }
                CallArgs args = eval_args(e.args, scope);
                if (!v.is_safe()) return filter(e.line, e.name, v, args);
                // MarkupSafe's str methods keep the mark and escape their
                // string arguments (Markup.replace); so do our filters.
                for (auto& arg : args.pos) arg = escaped(e.line, arg);
                for (auto& [name, arg] : args.kw) arg = escaped(e.line, arg);
                return keep_mark(v, filter(e.line, e.name, v, args));
            }
            case Expr::Kind::kTest: {
                const Value v = eval(*e.a, scope);
                return Value(test(e.line, e.name, v, eval_args(e.args, scope)) != e.negate);
            }
            case Expr::Kind::kUnary: {
                const Value v = eval(*e.a, scope);
                if (e.name == "not") return Value(!v.truthy());
                require_defined(e.line, v);
                if (!v.is_number()) fail(e.line, "bad operand type for unary " + e.name + ": '" + type_of(v) + "'");
                if (e.name == "+") return v.is_float() ? Value(v.as_number()) : Value(v.as_int());
                return v.is_float() ? Value(-v.as_number()) : Value(sub_int(e.line, 0, v.as_int()));
            }
            case Expr::Kind::kBinary: {
                if (e.name == "and") {
                    const Value l = eval(*e.a, scope);
                    return l.truthy() ? eval(*e.b, scope) : l;
                }
                if (e.name == "or") {
                    const Value l = eval(*e.a, scope);
                    return l.truthy() ? l : eval(*e.b, scope);
                }
                const Value l = eval(*e.a, scope);
                const Value r = eval(*e.b, scope);
                if (e.name == "~") {
                    // With autoescape, a safe operand makes the result safe
                    // and the other operand escaped (Jinja2's markup_join).
                    if (html_ && (l.is_safe() || r.is_safe())) return markup_join(e.line, l, r);
                    std::string out;
                    append_str(e.line, out, l);
                    append_str(e.line, out, r);
                    return Value(std::move(out));
                }
                // Markup + str escapes the str, in any mode (MarkupSafe's __add__).
                if (e.name == "+" && l.is_str() && r.is_str() && (l.is_safe() || r.is_safe())) {
                    return markup_join(e.line, l, r);
                }
                if (e.name == "+") return py_add(e.line, l, r);
                return py_arith(e.line, e.name, l, r);
            }
            case Expr::Kind::kCompare: {
                Value left = eval(*e.a, scope);
                for (const auto& [op, operand] : e.ops) {
                    const Value right = eval(*operand, scope);
                    bool ok;
                    if (op == "==") ok = py_eq(e.line, left, right);
                    else if (op == "!=") ok = !py_eq(e.line, left, right);
                    else if (op == "<") ok = py_less(e.line, left, right, "<");
                    else if (op == ">") ok = py_less(e.line, right, left, ">");
                    else if (op == "<=") ok = !py_less(e.line, right, left, "<=");
                    else if (op == ">=") ok = !py_less(e.line, left, right, ">=");
                    else if (op == "in") ok = py_in(e.line, left, right);
                    else ok = !py_in(e.line, left, right);
                    if (!ok) return Value(false);
                    left = right;
                }
                return Value(true);
            }
            case Expr::Kind::kCond: {
                if (eval(*e.b, scope).truthy()) return eval(*e.a, scope);
                if (e.c) return eval(*e.c, scope);
                return Value::undefined("the inline if expression on line " + std::to_string(e.line) +
                                        " evaluated to false and no else section was defined.");
            }
            case Expr::Kind::kList:
            case Expr::Kind::kTuple: {
                List items = reserved(e.line, e.items.size());
                for (const auto& item : e.items) items.push_back(eval(*item, scope));
                return e.kind == Expr::Kind::kTuple ? Value::tuple(std::move(items)) : Value(std::move(items));
            }
            case Expr::Kind::kDict: {
                Dict d;
                for (std::size_t i = 0; i + 1 < e.items.size(); i += 2) {
                    Value k = eval(*e.items[i], scope);
                    Value v = eval(*e.items[i + 1], scope);
                    bool replaced = false;
                    for (auto& [ek, ev] : d) {
                        if (py_eq(e.line, ek, k)) {
                            ev = v;
                            replaced = true;
                        }
                    }
                    if (!replaced) d.emplace_back(std::move(k), std::move(v));
                }
                return Value(std::move(d));
            }
        }
        fail(e.line, "unknown expression");
    }

    const Environment& env_;
    const bool html_;  // autoescape
    Scope context_;
    std::map<std::string, std::vector<BlockRef>> blocks_;
    std::vector<ActiveBlock> active_;
    std::vector<std::string> template_stack_;
    std::string failed_template_;
    std::vector<std::shared_ptr<const Template>> keep_;
    std::vector<std::unique_ptr<Scope>> modules_;  // imported templates' top levels
};

Result<std::string> run(const Environment& env, std::shared_ptr<const Template> tpl, const Dict& vars) {
    Budget budget;
    Budget* outer = t_budget;
    t_budget = &budget;
    struct Restore {
        Budget* outer;
        ~Restore() { t_budget = outer; }
    } restore{outer};
    Renderer r(env, vars);
    try {
        return r.render(std::move(tpl));
    } catch (const Failure& f) {
        return make_error(errc::kInvalidArgument,
                          TemplateError{r.failed_template(), f.line, f.message}.to_string());
    } catch (const TemplateError& e) {
        return make_error(errc::kInvalidArgument, e.to_string());
    }
}

}  // namespace

std::string TemplateError::to_string() const {
    return template_name + ", line " + std::to_string(line) + ": " + message;
}

FileSystemLoader::FileSystemLoader(std::vector<std::string> search_path)
    : search_path_(std::move(search_path)) {}

namespace {
// The file a template name resolves to: the first match on the search path.
// Names are relative paths that may not leave the search path.
std::optional<std::filesystem::path> resolve(const std::vector<std::string>& search_path,
                                             const std::string& name) {
    if (name.empty() || name.front() == '/' || name.find("..") != std::string::npos) return std::nullopt;
    for (const auto& dir : search_path) {
        std::filesystem::path p = std::filesystem::path(dir) / name;
        std::error_code ec;
        if (std::filesystem::is_regular_file(p, ec)) return p;
    }
    return std::nullopt;
}
}  // namespace

std::optional<Loader::Source> FileSystemLoader::load(const std::string& name) const {
    const auto p = resolve(search_path_, name);
    if (!p) return std::nullopt;
    std::ifstream in(*p, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream buf;
    buf << in.rdbuf();
    return Source{buf.str(), p->string()};
}

std::optional<long long> FileSystemLoader::version(const std::string& name) const {
    const auto p = resolve(search_path_, name);
    if (!p) return -1;
    std::error_code ec;
    const auto t = std::filesystem::last_write_time(*p, ec);
    if (ec) return -1;
    // The path is part of the version: a template that starts shadowing
    // another one on the search path must be picked up too.
    return static_cast<long long>(t.time_since_epoch().count()) ^
           static_cast<long long>(std::hash<std::string>{}(p->string()));
}

std::optional<Loader::Source> MapLoader::load(const std::string& name) const {
    auto it = templates_.find(name);
    if (it == templates_.end()) return std::nullopt;
    return Source{it->second, name};
}

Environment::Environment(std::shared_ptr<const Loader> loader, Options options)
    : loader_(std::move(loader)), options_(options) {}
Environment::~Environment() = default;

std::shared_ptr<const Template> Environment::get(const std::string& name) const {
    if (!loader_) return nullptr;
    const auto version = loader_->version(name);
    {
        std::lock_guard lock(mutex_);
        if (auto it = cache_.find(name); it != cache_.end() && it->second.version == version) {
            return it->second.tpl;
        }
    }
    auto source = loader_->load(name);
    if (!source) return nullptr;
    std::shared_ptr<const Template> tpl = parse_template(source->text, name);  // throws TemplateError
    std::lock_guard lock(mutex_);
    cache_[name] = Cached{tpl, version};
    return tpl;
}

Result<std::string> Environment::render(const std::string& name, const Dict& vars) const {
    try {
        auto tpl = get(name);
        if (!tpl) return make_error(errc::kNotFound, "template '" + name + "' not found");
        return run(*this, std::move(tpl), vars);
    } catch (const TemplateError& e) {
        return make_error(errc::kInvalidArgument, e.to_string());
    }
}

Result<std::string> Environment::render_source(const std::string& source, const Dict& vars,
                                               const std::string& name) const {
    try {
        return run(*this, parse_template(source, name), vars);
    } catch (const TemplateError& e) {
        return make_error(errc::kInvalidArgument, e.to_string());
    }
}

}  // namespace lava::common::jinja
