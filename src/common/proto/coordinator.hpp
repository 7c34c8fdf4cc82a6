#pragma once
// lava-coordinator's wire format (lava-protocols.md §6, proto/coordinator/):
// one request per TCP connection, each way one frame = 8 upper-case hex
// digits (the payload's length in bytes) + a JSON payload. Both ends of
// lava-cpp (lava-coordinator, lava-run's MultiNode protocol) frame through
// here, and write JSON as LAVA's Python does (json.dumps: ", " and ": "
// separators, non-ASCII as \uXXXX, floats as Python's repr) so that a reply
// is byte for byte LAVA's. Stateless; thread-safe.

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace lava::proto::coordinator {

constexpr std::size_t kHeaderSize = 8;
constexpr int kDefaultPort = 3079;
constexpr int kDefaultBlocksize = 4096;
// LAVA's client refuses to send payloads longer than this.
constexpr std::size_t kClientMaxPayload = 0xFFFE;

// What Python's json.dumps(value) writes.
std::string python_dumps(const nlohmann::ordered_json& value);

// "%08X" % payload.size() followed by the payload.
std::string frame(std::string_view payload);

// The payload length an 8-character header announces, read as LAVA's
// int(header, 16) reads it (surrounding blanks, a 0x prefix and either case
// allowed); nullopt when it is not a length.
std::optional<std::size_t> parse_header(std::string_view header);

// The JSON text of a plain reply, as LAVA writes it: {"response": "ack"}.
std::string reply(std::string_view response);

// A request as LAVA's client sends it: its base message (the settings it
// read, its host, its job id as client_name, the group and its role), then
// the call's own keys (request, group_size, messageID, message, waitrole,
// nodeID...) in `call`, which must hold "request".
struct Request {
    int port = kDefaultPort;
    int blocksize = kDefaultBlocksize;
    int poll_delay = 1;
    std::string host;      // the coordinator's host, as the client knows it
    std::string hostname;  // the client's own host name
    std::string client_name;
    std::string group_name;
    std::string role;
    nlohmann::ordered_json call = nlohmann::ordered_json::object();
};
std::optional<Request> parse_request(const nlohmann::ordered_json& j);
nlohmann::ordered_json to_json(const Request& r);

// A reply: response ack|nack|wait|group_data, with `message` (ack of a
// send/wait/sync) or `roles` (group_data: {client_name: role}).
struct Reply {
    std::string response;
    std::optional<nlohmann::ordered_json> message;
    std::optional<nlohmann::ordered_json> roles;
};
std::optional<Reply> parse_reply(const nlohmann::ordered_json& j);
nlohmann::ordered_json to_json(const Reply& r);

}  // namespace lava::proto::coordinator
