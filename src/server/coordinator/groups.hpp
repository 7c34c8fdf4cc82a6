#pragma once
// The MultiNode groups lava-coordinator keeps (lava-protocols.md §6.2): one
// request in, one reply out, with LAVA 2023.01's exact answers and
// bookkeeping (group registration by group_size, roles, lava_send merging,
// lava_wait, lava_wait_all with and without a role, lava_sync counting,
// clear_group, the legacy aggregate). Where LAVA's coordinator would die on
// a request (a missing key, an unknown role, a value Python cannot hash) this
// one answers as the dying one looked to its client, or nack, and goes on.
// Owned by the coordinator's server; used from its one I/O thread only.

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace lava::server::coordinator {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

struct Reply {
    // The reply's JSON text; nullopt: close the connection without a reply
    // (the `complete` request).
    std::optional<std::string> payload;
    std::string request;   // the request's name, for metrics ("" when unknown)
    std::string response;  // ack, nack, wait, group_data; "" when no reply
};

class Groups {
public:
    // One request's JSON payload (any JSON value; a non-object gets nack).
    Reply handle(const Json& request, Clock::time_point now);

    // Forgets the groups that saw no request for `idle`; returns how many.
    std::size_t expire(Clock::time_point now, Clock::duration idle);

    std::size_t group_count() const { return groups_.size(); }
    std::size_t client_count() const;

private:
    struct Group {
        std::string name;
        long long count = 0;  // group_size
        long long complete = 0;
        int rpc_delay = 2;
        std::vector<std::pair<std::string, Json>> clients;  // client_name -> hostname, in arrival order
        std::vector<std::pair<Json, std::vector<std::string>>> roles;  // role -> clients, in arrival order
        // Keyed by the messageID's JSON text (1 and "1" differ, as in Python).
        std::unordered_map<std::string, Json> syncs;                                 // {client: 0|1}
        std::unordered_map<std::string, std::unordered_map<std::string, Json>> messages;  // client -> id -> message
        std::unordered_map<std::string, Json> waits;                                 // id -> {client: {}, "data": {...}}
        Json bundles = Json::object();
        Clock::time_point last_seen;

        bool has_client(const std::string& client) const;
        const std::vector<std::string>* role_clients(const Json& role) const;
    };

    Reply lava_send(Group& group, const Json& request, const std::string& client);
    Reply lava_wait(Group& group, const Json& request, const std::string& client);
    Reply lava_wait_all(Group& group, const Json& request, const std::string& client);
    Reply lava_sync(Group& group, const Json& request, const std::string& client);
    Reply aggregate(Group& group, const Json& request, const std::string& client);
    Reply clear_group(const std::string& group_key);
    Reply group_data(Group& group);

    std::map<std::string, Group> groups_;  // by the group_name's key text
};

}  // namespace lava::server::coordinator
