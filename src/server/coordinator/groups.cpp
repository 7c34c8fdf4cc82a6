#include "server/coordinator/groups.hpp"

#include "common/log/log.hpp"
#include "common/proto/coordinator.hpp"

#include <cmath>
#include <limits>

namespace lava::server::coordinator {
namespace {

using proto::coordinator::python_dumps;

const std::string& plain(std::string_view response) {
    static const std::string ack = proto::coordinator::reply("ack");
    static const std::string nack = proto::coordinator::reply("nack");
    static const std::string wait = proto::coordinator::reply("wait");
    if (response == "ack") return ack;
    if (response == "wait") return wait;
    return nack;
}

Reply answer(const std::string& request, std::string_view response) {
    return Reply{plain(response), request, std::string(response)};
}

Reply ack_with(const std::string& request, Json message) {
    Json out = Json::object();
    out["response"] = "ack";
    out["message"] = std::move(message);
    return Reply{python_dumps(out), request, "ack"};
}

// Python's truth value of a JSON value.
bool falsy(const Json& v) {
    switch (v.type()) {
        case Json::value_t::null: return true;
        case Json::value_t::boolean: return !v.get<bool>();
        case Json::value_t::number_integer: return v.get<std::int64_t>() == 0;
        case Json::value_t::number_unsigned: return v.get<std::uint64_t>() == 0;
        case Json::value_t::number_float: return v.get<double>() == 0.0;
        case Json::value_t::string: return v.get_ref<const std::string&>().empty();
        case Json::value_t::array:
        case Json::value_t::object: return v.empty();
        default: return true;
    }
}

// A dict key in LAVA's coordinator (its JSON text: 1 and "1" are different
// keys there too); nullopt for a list or an object, which Python cannot hash.
std::optional<std::string> key_of(const Json& v) {
    if (v.is_array() || v.is_object()) return std::nullopt;
    return python_dumps(v);
}

// How a client name appears as a JSON key in LAVA's replies
// (json.dumps({42: ..}) writes "42").
std::optional<std::string> client_of(const Json& v) {
    if (v.is_array() || v.is_object()) return std::nullopt;
    if (v.is_string()) return v.get<std::string>();
    return python_dumps(v);
}

// Python's int(group_size); nullopt where Python raises.
std::optional<long long> python_int(const Json& v) {
    if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
    if (v.is_number_integer()) return v.get<long long>();
    if (v.is_number_float()) {
        const double d = v.get<double>();
        if (!std::isfinite(d) || std::fabs(d) > 9e18) return std::nullopt;
        return static_cast<long long>(std::trunc(d));
    }
    if (!v.is_string()) return std::nullopt;
    std::string_view s = v.get_ref<const std::string&>();
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    bool negative = false;
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
        negative = s.front() == '-';
        s.remove_prefix(1);
    }
    if (s.empty() || s.size() > 18) return std::nullopt;
    long long n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + (c - '0');
    }
    return negative ? -n : n;
}

// The messageID (null when absent, as LAVA's _getMessageID).
const Json& message_id(const Json& request) {
    static const Json null;
    const auto it = request.find("messageID");
    return it == request.end() ? null : *it;
}

// LAVA's _getMessage: {} unless both message and messageID are there and
// message is not null.
Json message_of(const Json& request) {
    const auto it = request.find("message");
    if (it == request.end() || !request.contains("messageID") || it->is_null()) return Json::object();
    return *it;
}

std::shared_ptr<spdlog::logger> logger() {
    static auto log = common::log::get("lava-coordinator");
    return log;
}

}  // namespace

bool Groups::Group::has_client(const std::string& client) const {
    for (const auto& [client_name, host] : clients) {
        if (client_name == client) return true;
    }
    return false;
}

const std::vector<std::string>* Groups::Group::role_clients(const Json& role) const {
    for (const auto& [role_name, members] : roles) {
        if (role_name == role) return &members;
    }
    return nullptr;
}

std::size_t Groups::client_count() const {
    std::size_t n = 0;
    for (const auto& [key, group] : groups_) n += group.clients.size();
    return n;
}

Reply Groups::handle(const Json& request, Clock::time_point now) {
    if (!request.is_object() || !request.contains("request")) return answer("", "nack");
    const auto& name_json = request["request"];
    const std::string name = name_json.is_string() ? name_json.get<std::string>() : "";

    // Registration (LAVA's _updateData): a new group needs a group_size; a
    // new client joins the clients and its role.
    const auto client_it = request.find("client_name");
    const auto group_it = request.find("group_name");
    if (client_it == request.end() || group_it == request.end()) return answer(name, "nack");
    const auto client = client_of(*client_it);
    const auto group_key = key_of(*group_it);
    if (!client || !group_key) return answer(name, "nack");
    auto found = groups_.find(*group_key);
    if (found == groups_.end()) {
        const auto size_it = request.find("group_size");
        if (size_it == request.end() || (size_it->is_number() && *size_it == 0) ||
            (size_it->is_boolean() && !size_it->get<bool>())) {
            logger()->warn("{} asked for a new group {} without its size", *client, *group_key);
            return answer(name, "nack");
        }
        const auto count = python_int(*size_it);
        if (!count) return answer(name, "nack");
        Group group;
        group.name = group_it->is_string() ? group_it->get<std::string>() : *group_key;
        group.count = *count;
        found = groups_.emplace(*group_key, std::move(group)).first;
        logger()->info("group {} will have {} nodes", found->second.name, *count);
    }
    Group& group = found->second;
    group.last_seen = now;
    if (!group.has_client(*client)) {
        const auto host_it = request.find("hostname");
        const auto role_it = request.find("role");
        if (host_it == request.end() || role_it == request.end() || !key_of(*role_it)) return answer(name, "nack");
        group.clients.emplace_back(*client, *host_it);
        bool placed = false;
        for (auto& [role, members] : group.roles) {
            if (role == *role_it) {
                members.push_back(*client);
                placed = true;
                break;
            }
        }
        if (!placed) group.roles.emplace_back(*role_it, std::vector<std::string>{*client});
    }
    if (falsy(*client_it) || falsy(*group_it)) return answer(name, "nack");

    if (name == "group_data") return group_data(group);
    if (name == "clear_group") return clear_group(*group_key);
    if (name == "aggregate") return aggregate(group, request, *client);
    if (name == "lava_sync") return lava_sync(group, request, *client);
    if (name == "lava_wait_all") return lava_wait_all(group, request, *client);
    if (name == "lava_wait") return lava_wait(group, request, *client);
    if (name == "lava_send") return lava_send(group, request, *client);
    if (name == "complete") return Reply{std::nullopt, name, ""};
    logger()->warn("unknown request {} from {} in group {}", python_dumps(name_json), *client, group.name);
    return answer("", "nack");
}

Reply Groups::group_data(Group& group) {
    if (static_cast<long long>(group.clients.size()) != group.count) return answer("group_data", "wait");
    Json roles = Json::object();
    for (const auto& [role, members] : group.roles) {
        for (const auto& member : members) roles[member] = role;
    }
    Json out = Json::object();
    out["response"] = "group_data";
    out["roles"] = std::move(roles);
    return Reply{python_dumps(out), "group_data", "group_data"};
}

Reply Groups::clear_group(const std::string& group_key) {
    Group& group = groups_.at(group_key);
    ++group.complete;
    if (static_cast<long long>(group.clients.size()) <= group.complete) {
        logger()->info("group {} is complete: forgotten", group.name);
        groups_.erase(group_key);
    }
    return answer("clear_group", "ack");
}

Reply Groups::lava_send(Group& group, const Json& request, const std::string& client) {
    const Json message = message_of(request);
    const auto id = key_of(message_id(request));
    if (!id) return answer("lava_send", "nack");
    // The sender's message joins the messageID's message of every client
    // (the sender's own included), and the messageID's wait-all data.
    auto merge = [&](const std::string& into) {
        Json& slot = group.messages[into][*id];
        if (!slot.is_object()) slot = Json::object();
        slot[client] = message;
    };
    merge(client);
    for (const auto& [member, host] : group.clients) merge(member);
    Json& wait = group.waits[*id];
    if (!wait.is_object()) wait = Json::object();
    if (!wait.contains(client)) wait[client] = Json::object();
    if (!wait.contains("data")) wait["data"] = Json::object();
    wait["data"][client] = message;
    return answer("lava_send", "ack");
}

Reply Groups::lava_wait(Group& group, const Json& request, const std::string& client) {
    const auto id = key_of(message_id(request));
    if (!id) return answer("lava_wait", "nack");
    const auto mine = group.messages.find(client);
    if (mine == group.messages.end()) return answer("lava_wait", "wait");
    const auto message = mine->second.find(*id);
    if (message == mine->second.end()) return answer("lava_wait", "wait");
    return ack_with("lava_wait", message->second);
}

Reply Groups::lava_wait_all(Group& group, const Json& request, const std::string& client) {
    const char* kName = "lava_wait_all";
    const auto id = key_of(message_id(request));
    if (!id) return answer(kName, "nack");
    const auto waits = group.waits.find(*id);
    if (request.contains("waitrole")) {
        // LAVA's loop, kept as it is: over the clients of the caller's own
        // role, ack as soon as the first client of `waitrole` has sent.
        const auto* wanted = group.role_clients(request["waitrole"]);
        const auto* own = request.contains("role") ? group.role_clients(request["role"]) : nullptr;
        if (wanted == nullptr || own == nullptr) {
            // LAVA's coordinator dies here (KeyError); its client saw no
            // reply, which it reads as "wait".
            logger()->warn("lava_wait_all from {} in group {}: unknown role", client, group.name);
            return answer(kName, "wait");
        }
        const std::string& expected = wanted->front();
        for (const auto& member : *own) {
            if (waits == group.waits.end()) return answer(kName, "wait");
            if (!expected.empty() && waits->second.contains(expected)) {
                const auto mine = group.messages.find(client);
                if (mine == group.messages.end() || !mine->second.contains(*id)) return answer(kName, "nack");
                return ack_with(kName, mine->second.at(*id));
            }
            if (!waits->second.contains(member)) return answer(kName, "wait");
        }
    } else {
        for (const auto& [member, host] : group.clients) {
            if (waits == group.waits.end()) return answer(kName, "nack");
            if (!waits->second.contains(member)) return answer(kName, "wait");
        }
    }
    if (waits == group.waits.end() || !waits->second.contains(client)) return answer(kName, "nack");
    return ack_with(kName, waits->second["data"]);
}

Reply Groups::lava_sync(Group& group, const Json& request, const std::string& client) {
    const Json& id_json = message_id(request);
    const auto id = key_of(id_json);
    if (!id) return answer("lava_sync", "nack");
    Json message = message_of(request);
    if (falsy(message)) message = id_json;
    Json& arrived = group.syncs[*id];
    if (!arrived.is_object()) arrived = Json::object();
    Json& slot = group.messages[client][*id];
    if (static_cast<long long>(arrived.size()) < group.count) {
        slot = message;
        arrived[client] = 1;
        return answer("lava_sync", "wait");
    }
    // Every node has arrived: each gets its ack as it polls again; the
    // messageID can be used for another sync once all have had theirs.
    slot = message;
    Reply reply = ack_with("lava_sync", message);
    arrived[client] = 0;
    bool all_released = true;
    for (const auto& [member, pending] : arrived.items()) {
        if (pending != 0) all_released = false;
    }
    if (all_released) arrived = Json::object();
    return reply;
}

Reply Groups::aggregate(Group& group, const Json& request, const std::string& client) {
    const char* kName = "aggregate";
    if (!request.contains("bundle")) return answer(kName, "nack");
    const auto sub_id = request.find("sub_id");
    if (sub_id == request.end() || sub_id->is_null()) return answer(kName, "nack");
    group.bundles[client] = request["bundle"];
    if (!sub_id->is_string()) return answer(kName, "nack");
    const auto& text = sub_id->get_ref<const std::string&>();
    if (text.size() < 2 || text.compare(text.size() - 2, 2, ".0") != 0) return answer(kName, "ack");
    if (static_cast<long long>(group.bundles.size()) < group.count) {
        group.rpc_delay = 2;
        return answer(kName, "wait");
    }
    if (group.rpc_delay > 0) {
        --group.rpc_delay;
        return answer(kName, "wait");
    }
    group.rpc_delay = 2;
    Json message = Json::object();
    message["bundle"] = group.bundles;
    return ack_with(kName, std::move(message));
}

std::size_t Groups::expire(Clock::time_point now, Clock::duration idle) {
    std::size_t n = 0;
    for (auto it = groups_.begin(); it != groups_.end();) {
        if (now - it->second.last_seen > idle) {
            logger()->warn("group {} forgotten: no request for {} s", it->second.name,
                              std::chrono::duration_cast<std::chrono::seconds>(idle).count());
            it = groups_.erase(it);
            ++n;
        } else {
            ++it;
        }
    }
    return n;
}

}  // namespace lava::server::coordinator
