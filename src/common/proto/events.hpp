#pragma once
// LAVA's events (lava-protocols.md §5.2-5.3): 5 frames [topic, uuid1,
// naive UTC time, username, JSON payload] on ZMQ; on the WebSocket, a JSON
// array of the same 5 strings. Payloads of the testjob, device, worker and
// event topics. Produced by lava-server, carried by lava-publisher, read by
// lava-scheduler, lava-worker and clients. The contract: proto/events/.

#include "common/base/error.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lava::proto {

struct Event {
    std::string topic;     // <EVENT_TOPIC><suffix>, e.g. org.lavasoftware.testjob
    std::string uuid;
    std::string datetime;  // "2023-01-10T10:00:00.000001"
    std::string username;
    std::string payload;   // JSON text
};

std::array<std::string, 5> to_frames(const Event& e);
Result<Event> parse_frames(const std::vector<std::string>& frames);
// The WebSocket text frame: ["topic", "uuid", "datetime", "username", "payload"].
std::string to_websocket_text(const Event& e);
Result<Event> parse_websocket_text(const std::string& text);

struct TestJobEvent {
    std::string health;  // display names
    std::string state;
    std::int64_t job = 0;
    std::string description;
    int priority = 50;
    std::string submit_time;  // ISO 8601 with "+00:00"
    std::string submitter;
    bool health_check = false;
    std::optional<std::string> sub_id;
    std::optional<std::string> device;
    std::optional<std::string> worker;
    std::optional<std::string> device_type;
    std::optional<std::string> start_time;
    std::optional<std::string> end_time;
};

struct DeviceEvent {
    std::string health;
    std::string state;
    std::string device;
    std::string device_type;
    std::optional<std::string> worker;  // null on the wire when absent
    std::optional<std::string> job;     // the current job's display id
};

struct WorkerEvent {
    std::string hostname;
    std::string health;
    std::string state;
};

struct LogEvent {
    nlohmann::json message;  // the lava-test-event text (any YAML value)
    std::int64_t job = 0;
};

// lava-cpp's <topic>.log, from lava-server to lava-publisher only (never on
// its PUB socket): a job's log has `lines` committed lines (the web UI's
// live tail, docs/adr/0011-web-ui.md).
struct LogNotice {
    std::int64_t job = 0;
    std::int64_t lines = 0;
};

nlohmann::json to_json(const TestJobEvent& e);
nlohmann::json to_json(const LogNotice& e);
nlohmann::json to_json(const DeviceEvent& e);
nlohmann::json to_json(const WorkerEvent& e);
nlohmann::json to_json(const LogEvent& e);

Result<TestJobEvent> parse_testjob_event(const nlohmann::json& j);
Result<DeviceEvent> parse_device_event(const nlohmann::json& j);
Result<WorkerEvent> parse_worker_event(const nlohmann::json& j);
Result<LogEvent> parse_log_event(const nlohmann::json& j);
Result<LogNotice> parse_log_notice(const nlohmann::json& j);

}  // namespace lava::proto
