#pragma once
// XML-RPC values, method calls and responses (lava-protocols.md §3): the
// codec behind lava-server's /RPC2. Parsing uses pugixml (no DTDs, so no
// entity expansion) with limits on nesting; writing produces what Python's
// xmlrpc.client sends and expects (allow_none: <nil/>). No I/O, no state:
// safe on any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace lava::common::xmlrpc {

struct Nil {
    bool operator==(const Nil&) const = default;
};
// dateTime.iso8601 as XML-RPC writes it: "20230131T12:34:56".
struct DateTime {
    std::string text;
    bool operator==(const DateTime&) const = default;
};
// <base64>: raw bytes.
struct Binary {
    std::string bytes;
    bool operator==(const Binary&) const = default;
};

class Value;
using Array = std::vector<Value>;
using Member = std::pair<std::string, Value>;
using Struct = std::vector<Member>;  // members in order; names unique

enum class Kind { kNil, kBool, kInt, kDouble, kString, kDateTime, kBinary, kArray, kStruct };

class Value {
public:
    Value() = default;
    Value(Nil) {}
    Value(std::nullopt_t) {}
    Value(bool b) : v_(b) {}
    Value(int i) : v_(std::int64_t{i}) {}
    Value(long i) : v_(std::int64_t{i}) {}
    Value(long long i) : v_(static_cast<std::int64_t>(i)) {}
    Value(unsigned i) : v_(std::int64_t{i}) {}
    Value(unsigned long i) : v_(static_cast<std::int64_t>(i)) {}
    Value(double d) : v_(d) {}
    Value(std::string s) : v_(std::move(s)) {}
    Value(std::string_view s) : v_(std::string(s)) {}
    Value(const char* s) : v_(std::string(s)) {}
    Value(DateTime d) : v_(std::move(d)) {}
    Value(Binary b) : v_(std::move(b)) {}
    Value(Array a) : v_(std::move(a)) {}
    Value(Struct s) : v_(std::move(s)) {}
    template <typename T>
    Value(const std::optional<T>& o) {
        if (o) *this = Value(*o);
    }

    Kind kind() const { return static_cast<Kind>(v_.index()); }
    bool is_nil() const { return kind() == Kind::kNil; }
    bool is_bool() const { return kind() == Kind::kBool; }
    bool is_int() const { return kind() == Kind::kInt; }
    bool is_double() const { return kind() == Kind::kDouble; }
    bool is_string() const { return kind() == Kind::kString; }
    bool is_array() const { return kind() == Kind::kArray; }
    bool is_struct() const { return kind() == Kind::kStruct; }

    bool as_bool() const { return std::get<bool>(v_); }
    std::int64_t as_int() const { return std::get<std::int64_t>(v_); }
    double as_double() const { return std::get<double>(v_); }
    const std::string& as_string() const { return std::get<std::string>(v_); }
    const DateTime& as_datetime() const { return std::get<DateTime>(v_); }
    const Binary& as_binary() const { return std::get<Binary>(v_); }
    const Array& as_array() const { return std::get<Array>(v_); }
    Array& as_array() { return std::get<Array>(v_); }
    const Struct& as_struct() const { return std::get<Struct>(v_); }
    Struct& as_struct() { return std::get<Struct>(v_); }

    // A struct member, or nullptr (also when this is not a struct).
    const Value* find(std::string_view name) const;
    // Sets a struct member (this becomes a struct if nil); returns *this.
    Value& set(std::string name, Value v);

    // Python's name for the type ("int", "str", "dict", ...), for messages.
    std::string_view type_name() const;

    bool operator==(const Value& o) const { return v_ == o.v_; }

private:
    std::variant<Nil, bool, std::int64_t, double, std::string, DateTime, Binary, Array, Struct> v_;
};

// The dispatcher's fault codes (xmlrpc-epi's specification, as LAVA).
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;

struct Fault {
    int code = 0;
    std::string message;
};

struct MethodCall {
    std::string method;
    Array params;
};

struct Limits {
    std::size_t max_depth = 64;  // nested arrays/structs
};

// A <methodCall> document, or the fault to answer (-32700 for XML that is not
// well formed, -32600 for well-formed XML that is not a method call).
std::variant<MethodCall, Fault> parse_call(std::string_view xml, const Limits& limits = {});

// A <methodResponse> document: its single value, or the fault it carries.
std::variant<Value, Fault> parse_response(std::string_view xml, const Limits& limits = {});

std::string write_call(const MethodCall& call);
std::string write_response(const Value& result);
std::string write_fault(const Fault& fault);

}  // namespace lava::common::xmlrpc
