#pragma once
// The worker API's messages (lava-protocols.md §1.1-1.6), shared by
// lava-server and lava-worker/lava-run so both read and write the same bytes
// the same way. JSON messages convert to and from nlohmann::json; form
// messages (application/x-www-form-urlencoded) to and from their decoded
// fields. Parsing never throws: a bad message is an error naming the field.
// The contract itself (JSON Schema + golden examples) is in proto/worker/.

#include "common/base/error.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lava::proto {

using FormFields = std::vector<std::pair<std::string, std::string>>;

// POST workers/ (form).
struct RegisterRequest {
    std::string name;
    std::optional<std::string> username;
    std::optional<std::string> password;
};
// Its 200 reply.
struct RegisterReply {
    std::string name;
    std::string token;
};

// One job in a ping reply.
struct JobRef {
    std::int64_t id = 0;
    std::string token;
};
// GET workers/<hostname>/?version= reply.
struct PingReply {
    std::vector<JobRef> cancel;
    std::vector<JobRef> running;
    std::vector<JobRef> start;
};

// GET jobs/<id>/ reply: YAML texts ("" when there is no such file).
struct JobPayload {
    std::string definition;
    std::string device;
    std::string dispatcher;
    std::string env;
    std::string env_dut;  // "env-dut" on the wire
};

// POST jobs/<id>/ (form): state=RUNNING, or state=FINISHED with the rest.
struct StatePost {
    std::string state;  // as sent; the server capitalizes it
    std::optional<std::string> result;  // pass | fail
    std::optional<std::string> error_type;
    std::optional<std::string> errors;
    std::optional<std::string> description;
    // After parse_state_post: Finished (with a result), else Running.
    bool finished() const;
};

// POST jobs/<id>/logs/ (form) and its reply.
struct LogBatch {
    std::string lines;  // "- {...}\n- {...}" (no trailing newline)
    long long index = 0;
};
struct LogReply {
    long long line_count = 0;
};

// Every error reply: {"error": "..."}.
struct ErrorReply {
    std::string error;
};

nlohmann::json to_json(const RegisterReply& m);
nlohmann::json to_json(const PingReply& m);
nlohmann::json to_json(const JobPayload& m);
nlohmann::json to_json(const LogReply& m);
nlohmann::json to_json(const ErrorReply& m);

Result<RegisterReply> parse_register_reply(const nlohmann::json& j);
Result<PingReply> parse_ping_reply(const nlohmann::json& j);
Result<JobPayload> parse_job_payload(const nlohmann::json& j);
Result<LogReply> parse_log_reply(const nlohmann::json& j);
Result<ErrorReply> parse_error_reply(const nlohmann::json& j);

FormFields to_form(const RegisterRequest& m);
FormFields to_form(const StatePost& m);
FormFields to_form(const LogBatch& m);

// Errors are LAVA's: "Missing 'name'", "Missing 'lines'", "Invalid 'index'".
Result<RegisterRequest> parse_register_request(const FormFields& f);
Result<StatePost> parse_state_post(const FormFields& f);
Result<LogBatch> parse_log_batch_form(const FormFields& f);

}  // namespace lava::proto
