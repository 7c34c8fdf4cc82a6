#include "common/proto/states.hpp"

#include <cctype>

namespace lava::proto::detail {

namespace {
bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    }
    return true;
}
}  // namespace

std::optional<int> find_name(std::span<const std::string_view> names, std::string_view text) {
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (iequals(names[i], text)) return static_cast<int>(i);
    }
    return std::nullopt;
}

std::string choices(std::span<const std::string_view> names, bool upper) {
    std::string out;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i) out += ", ";
        for (char c : names[i]) {
            out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
        }
    }
    return out;
}

}  // namespace lava::proto::detail
