#pragma once
// Output of `lava-server manage`: rows of named columns printed as an aligned
// table for people, or as CSV or JSON for scripts; and single records printed
// as "key: value" lines or a JSON object. Used on the main thread only.

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace lava::server::manage {

enum class Format { kText, kCsv, kJson };

// One cell: null, a flag, a number, text, or a list of names.
using Value = std::variant<std::nullptr_t, bool, std::int64_t, std::string, std::vector<std::string>>;

template <class T>
Value optional_value(const std::optional<T>& v) {
    if (!v) return nullptr;
    if constexpr (std::is_integral_v<T>) return static_cast<std::int64_t>(*v);
    else return Value(*v);
}

struct Table {
    std::vector<std::string> columns;  // JSON keys; upper-cased as text headers
    std::vector<std::vector<Value>> rows;
};

// An ordered set of fields describing one object.
using Record = std::vector<std::pair<std::string, Value>>;

void print(std::ostream& out, const Table& table, Format format);
void print(std::ostream& out, const Record& record, Format format);

// Text form of a value in a table cell or record line.
std::string to_text(const Value& v);

}  // namespace lava::server::manage
