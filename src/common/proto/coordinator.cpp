#include "common/proto/coordinator.hpp"

#include "common/base/text.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdint>

namespace lava::proto::coordinator {
namespace {

// Python's repr(float): the shortest digits that read back the same, in
// fixed notation when the decimal exponent is in [-4, 16), else as
// d[.ddd]e±XX.
void put_float(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
        return;
    }
    if (std::isinf(v)) {
        out += v < 0 ? "-Infinity" : "Infinity";
        return;
    }
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    std::string_view sci(buf, static_cast<std::size_t>(r.ptr - buf));
    bool negative = false;
    if (!sci.empty() && sci.front() == '-') {
        negative = true;
        sci.remove_prefix(1);
    }
    const auto e_at = sci.find('e');
    std::string digits;
    for (char c : sci.substr(0, e_at)) {
        if (c != '.') digits += c;
    }
    int exponent = 0;
    const auto exp_text = sci.substr(e_at + 1);
    std::from_chars(exp_text.data() + (exp_text.front() == '+' ? 1 : 0), exp_text.data() + exp_text.size(),
                    exponent);
    if (negative) out += '-';
    if (exponent >= -4 && exponent < 16) {
        if (exponent >= 0) {
            const auto int_len = static_cast<std::size_t>(exponent) + 1;
            if (digits.size() <= int_len) {
                out += digits;
                out.append(int_len - digits.size(), '0');
                out += ".0";
            } else {
                out += digits.substr(0, int_len);
                out += '.';
                out += digits.substr(int_len);
            }
        } else {
            out += "0.";
            out.append(static_cast<std::size_t>(-exponent - 1), '0');
            out += digits;
        }
        return;
    }
    out += digits[0];
    if (digits.size() > 1) {
        out += '.';
        out += digits.substr(1);
    }
    out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
}

// json.dumps's ensure_ascii string: only printable ASCII is written as is.
void put_string(std::string& out, const std::string& s) {
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7F) {
            if (c == '"' || c == '\\') out += '\\';
            out += static_cast<char>(c);
            ++i;
            continue;
        }
        switch (c) {
            case '\n': out += "\\n"; ++i; continue;
            case '\r': out += "\\r"; ++i; continue;
            case '\t': out += "\\t"; ++i; continue;
            case '\b': out += "\\b"; ++i; continue;
            case '\f': out += "\\f"; ++i; continue;
            default: break;
        }
        const std::uint32_t cp = lava::next_code_point(s, i);  // valid: nlohmann checked it
        if (cp >= 0x10000) {
            const auto v = cp - 0x10000;
            out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
        } else {
            out += fmt::format("\\u{:04x}", cp);
        }
    }
    out += '"';
}

void put(std::string& out, const nlohmann::ordered_json& v) {
    using T = nlohmann::ordered_json::value_t;
    switch (v.type()) {
        case T::null: out += "null"; return;
        case T::boolean: out += v.get<bool>() ? "true" : "false"; return;
        case T::number_integer: out += std::to_string(v.get<std::int64_t>()); return;
        case T::number_unsigned: out += std::to_string(v.get<std::uint64_t>()); return;
        case T::number_float: put_float(out, v.get<double>()); return;
        case T::string: put_string(out, v.get_ref<const std::string&>()); return;
        case T::array: {
            out += '[';
            bool first = true;
            for (const auto& item : v) {
                if (!first) out += ", ";
                first = false;
                put(out, item);
            }
            out += ']';
            return;
        }
        case T::object: {
            out += '{';
            bool first = true;
            for (const auto& [key, item] : v.items()) {
                if (!first) out += ", ";
                first = false;
                put_string(out, key);
                out += ": ";
                put(out, item);
            }
            out += '}';
            return;
        }
        default: out += "null"; return;  // binary and discarded values never come from JSON text
    }
}

}  // namespace

std::string python_dumps(const nlohmann::ordered_json& value) {
    std::string out;
    put(out, value);
    return out;
}

std::string frame(std::string_view payload) {
    return fmt::format("{:08X}", payload.size()) + std::string(payload);
}

std::optional<std::size_t> parse_header(std::string_view header) {
    while (!header.empty() && (header.front() == ' ' || header.front() == '\t')) header.remove_prefix(1);
    while (!header.empty() && (header.back() == ' ' || header.back() == '\t')) header.remove_suffix(1);
    if (header.size() > 2 && header[0] == '0' && (header[1] == 'x' || header[1] == 'X')) header.remove_prefix(2);
    if (header.empty()) return std::nullopt;
    std::size_t n = 0;
    const auto r = std::from_chars(header.data(), header.data() + header.size(), n, 16);
    if (r.ec != std::errc() || r.ptr != header.data() + header.size()) return std::nullopt;
    return n;
}

std::string reply(std::string_view response) {
    return python_dumps(nlohmann::ordered_json{{"response", std::string(response)}});
}

namespace {

std::optional<std::string> string_field(const nlohmann::ordered_json& j, const char* key) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
}

std::optional<int> int_field(const nlohmann::ordered_json& j, const char* key) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<int>();
}

constexpr const char* kBaseKeys[] = {"port",        "blocksize",  "poll_delay", "host",
                                     "hostname",    "client_name", "group_name", "role"};

}  // namespace

std::optional<Request> parse_request(const nlohmann::ordered_json& j) {
    if (!j.is_object()) return std::nullopt;
    Request r;
    const auto port = int_field(j, "port");
    const auto blocksize = int_field(j, "blocksize");
    const auto poll_delay = int_field(j, "poll_delay");
    auto host = string_field(j, "host");
    auto hostname = string_field(j, "hostname");
    auto client = string_field(j, "client_name");
    auto group = string_field(j, "group_name");
    auto role = string_field(j, "role");
    const auto request = string_field(j, "request");
    if (!port || !blocksize || !poll_delay || !host || !hostname || !client || !group || !role || !request) {
        return std::nullopt;
    }
    if (client->empty() || group->empty()) return std::nullopt;
    r.port = *port;
    r.blocksize = *blocksize;
    r.poll_delay = *poll_delay;
    r.host = std::move(*host);
    r.hostname = std::move(*hostname);
    r.client_name = std::move(*client);
    r.group_name = std::move(*group);
    r.role = std::move(*role);
    for (const auto& [key, value] : j.items()) {
        bool base = false;
        for (const char* b : kBaseKeys) base = base || key == b;
        if (!base) r.call[key] = value;
    }
    return r;
}

nlohmann::ordered_json to_json(const Request& r) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    j["port"] = r.port;
    j["blocksize"] = r.blocksize;
    j["poll_delay"] = r.poll_delay;
    j["host"] = r.host;
    j["hostname"] = r.hostname;
    j["client_name"] = r.client_name;
    j["group_name"] = r.group_name;
    j["role"] = r.role;
    for (const auto& [key, value] : r.call.items()) j[key] = value;
    return j;
}

std::optional<Reply> parse_reply(const nlohmann::ordered_json& j) {
    if (!j.is_object()) return std::nullopt;
    auto response = string_field(j, "response");
    if (!response) return std::nullopt;
    if (*response != "ack" && *response != "nack" && *response != "wait" && *response != "group_data") {
        return std::nullopt;
    }
    Reply r;
    r.response = std::move(*response);
    for (const auto& [key, value] : j.items()) {
        if (key == "response") continue;
        if (key == "message") {
            r.message = value;
        } else if (key == "roles" && value.is_object() && r.response == "group_data") {
            for (const auto& [client, role] : value.items()) {
                if (!role.is_string()) return std::nullopt;
            }
            r.roles = value;
        } else {
            return std::nullopt;
        }
    }
    if (r.response == "group_data" && !r.roles) return std::nullopt;
    return r;
}

nlohmann::ordered_json to_json(const Reply& r) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    j["response"] = r.response;
    if (r.message) j["message"] = *r.message;
    if (r.roles) j["roles"] = *r.roles;
    return j;
}

}  // namespace lava::proto::coordinator
