#include "common/proto/json.hpp"

#include "common/base/limits.hpp"

namespace lava::proto {

std::optional<std::string> json_limits_problem(std::string_view text) {
    const auto& limits = input_limits();
    long long depth = 0;
    long long values = 1;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        switch (c) {
            case '"': in_string = true; break;
            case '[':
            case '{':
                if (++depth > limits.json_max_depth) {
                    return limit_message("arrays and objects nested deeper than", limits.json_max_depth,
                                         "json_max_depth");
                }
                [[fallthrough]];
            case ',':
            case ':':
                if (++values > limits.json_max_nodes) {
                    return limit_message("more values than", limits.json_max_nodes, "json_max_nodes");
                }
                break;
            case ']':
            case '}': --depth; break;
            default: break;
        }
    }
    return std::nullopt;
}

nlohmann::json parse_json(std::string_view text, std::string* problem) {
    if (auto over = json_limits_problem(text)) {
        if (problem) *problem = *over;
        return nlohmann::json(nlohmann::json::value_t::discarded);
    }
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() && problem) *problem = "not valid JSON";
    return j;
}

}  // namespace lava::proto
