#include "server/web/json_filter.hpp"

#include "common/base/text.hpp"

#include <algorithm>
#include <cctype>

namespace lava::server::web {
namespace {

using nlohmann::json;

const std::vector<std::string> kLookups = {"exact", "iexact", "in", "contains", "icontains", "startswith",
                                           "endswith", "lt", "lte", "gt", "gte", "isnull"};
const std::vector<std::string> kKeyFields = {"name", "hostname", "username", "id"};

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// How the query string spells a JSON scalar.
std::string text_of(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
    if (v.is_null()) return "";
    return v.dump();
}

bool as_bool(const std::string& v, bool& out) {
    const auto l = lower(v);
    if (l == "true" || l == "1") return out = true, true;
    if (l == "false" || l == "0") return out = false, true;
    return false;
}

bool compare_numbers(const json& v, const std::string& want, const std::string& op) {
    double a = 0;
    double b = 0;
    try {
        a = v.is_number() ? v.get<double>() : std::stod(text_of(v));
        b = std::stod(want);
    } catch (const std::exception&) {
        const auto t = text_of(v);  // dates and other text compare as text
        if (op == "lt") return t < want;
        if (op == "lte") return t <= want;
        if (op == "gt") return t > want;
        return t >= want;
    }
    if (op == "lt") return a < b;
    if (op == "lte") return a <= b;
    if (op == "gt") return a > b;
    return a >= b;
}

bool scalar_matches(const json& v, const std::string& lookup, const std::string& want) {
    const std::string t = text_of(v);
    if (lookup == "exact") {
        bool b = false;
        if (v.is_boolean() && as_bool(want, b)) return v.get<bool>() == b;
        return !v.is_null() && t == want;
    }
    if (lookup == "iexact") return lower(t) == lower(want);
    if (lookup == "in") {
        const auto options = split(want, ',');
        return std::find(options.begin(), options.end(), t) != options.end();
    }
    if (lookup == "contains") return t.find(want) != std::string::npos;
    if (lookup == "icontains") return lower(t).find(lower(want)) != std::string::npos;
    if (lookup == "startswith") return t.rfind(want, 0) == 0;
    if (lookup == "endswith") return t.size() >= want.size() && t.compare(t.size() - want.size(), want.size(), want) == 0;
    if (v.is_null()) return false;
    return compare_numbers(v, want, lookup);
}

}  // namespace

Result<json> filter_objects(const json& items, const std::vector<std::pair<std::string, std::string>>& params,
                            const FilterSpec& spec) {
    json out = json::array();
    struct Filter {
        std::string field;
        std::string lookup;
        std::string value;
    };
    std::vector<Filter> filters;
    const json sample = items.empty() ? json::object() : items.front();
    for (const auto& [param, value] : params) {
        if (std::find(spec.reserved.begin(), spec.reserved.end(), param) != spec.reserved.end()) continue;
        std::string field = param;
        std::string lookup = "exact";
        if (const auto sep = field.rfind("__"); sep != std::string::npos &&
            std::find(kLookups.begin(), kLookups.end(), field.substr(sep + 2)) != kLookups.end()) {
            lookup = field.substr(sep + 2);
            field = field.substr(0, sep);
        }
        if (const auto sep = field.rfind("__"); sep != std::string::npos &&
            std::find(kKeyFields.begin(), kKeyFields.end(), field.substr(sep + 2)) != kKeyFields.end()) {
            field = field.substr(0, sep);  // worker_host__hostname: the serialized key is the hostname
        }
        if (!items.empty() && !sample.contains(field)) continue;  // unknown: ignored
        if (auto c = spec.choices.find(field); c != spec.choices.end() && (lookup == "exact" || lookup == "in")) {
            const auto& names = c->second;
            for (const auto& v : lookup == "in" ? split(value, ',') : std::vector<std::string>{value}) {
                if (std::find(names.begin(), names.end(), v) != names.end()) continue;
                std::string list;
                for (const auto& n : names) list += (list.empty() ? "'" : ", '") + n + "'";
                return make_error(errc::kInvalidArgument, param + "\nSelect a valid choice. " + v +
                                                              " is not one of the available choices: (" + list + ")");
            }
        }
        if (lookup == "isnull") {
            bool b = false;
            if (!as_bool(value, b)) return make_error(errc::kInvalidArgument, param + "\nEnter a valid boolean.");
        }
        filters.push_back(Filter{field, lookup, value});
    }
    for (const auto& item : items) {
        bool keep = true;
        for (const auto& f : filters) {
            const json& v = item.contains(f.field) ? item[f.field] : json();
            if (f.lookup == "isnull") {
                bool want = false;
                as_bool(f.value, want);
                const bool is_null = v.is_null() || (v.is_array() && v.empty());
                keep = is_null == want;
            } else if (v.is_array()) {
                keep = std::any_of(v.begin(), v.end(), [&](const json& e) { return scalar_matches(e, f.lookup, f.value); });
            } else {
                keep = scalar_matches(v, f.lookup, f.value);
            }
            if (!keep) break;
        }
        if (keep) out.push_back(item);
    }
    return out;
}

void order_objects(json& items, const std::string& ordering) {
    if (ordering.empty() || !items.is_array()) return;
    auto keys = split(ordering, ',');
    std::reverse(keys.begin(), keys.end());  // stable sorts, last key first
    for (const auto& key : keys) {
        const bool desc = !key.empty() && key[0] == '-';
        const std::string field = desc ? key.substr(1) : key;
        if (items.empty() || !items.front().contains(field)) continue;
        std::stable_sort(items.begin(), items.end(), [&](const json& a, const json& b) {
            const json& x = a[field];
            const json& y = b[field];
            if (x.is_number() && y.is_number()) return desc ? y.get<double>() < x.get<double>() : x.get<double>() < y.get<double>();
            return desc ? text_of(y) < text_of(x) : text_of(x) < text_of(y);
        });
    }
}

}  // namespace lava::server::web
