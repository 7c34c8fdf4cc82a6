#pragma once
// django-filter's query syntax over serialized objects, for the small
// catalogue endpoints (devices, device types, workers, aliases, tags) whose
// rows fit in memory: ?field=v, ?field__lookup=v with lookups exact,
// iexact, in, contains, icontains, startswith, endswith, lt, lte, gt, gte,
// isnull; a related key may be named with its key field (device_type__name,
// worker_host__hostname). List fields match when any element does. Unknown
// parameters are ignored, as django-filter does; an invalid choice is an
// error. ?ordering=a,-b sorts. (Jobs, which can be millions, filter in SQL.)

#include "common/base/error.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace lava::server::web {

struct FilterSpec {
    // Fields that take only these values (display names): state, health...
    std::map<std::string, std::vector<std::string>> choices;
    // Parameters that are not filters (limit, offset, ordering, format, ...).
    std::vector<std::string> reserved = {"limit", "offset", "ordering", "format", "page", "all", "search"};
};

// The objects of `items` (a JSON array) that pass every filter in `params`.
// An error's message is "param\nmessage" (the DRF body {"param": ["message"]}).
Result<nlohmann::json> filter_objects(const nlohmann::json& items,
                                      const std::vector<std::pair<std::string, std::string>>& params,
                                      const FilterSpec& spec);

// Sorts by ?ordering (comma-separated, '-' for descending); unknown fields are ignored.
void order_objects(nlohmann::json& items, const std::string& ordering);

}  // namespace lava::server::web
