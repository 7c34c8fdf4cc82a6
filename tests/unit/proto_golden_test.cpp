// The C++ wire types against the golden examples in proto/ (STYLE rule 11):
// every valid example parses and serializes back to the same JSON (or, for
// log lines, the same bytes); every invalid example is rejected.
#include "common/proto/coordinator.hpp"
#include "common/proto/events.hpp"
#include "common/proto/logline.hpp"
#include "common/proto/worker_api.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

namespace lava::proto {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path proto_dir() { return fs::path(LAVA_SOURCE_DIR) / "proto"; }

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

FormFields form(const json& j) {
    FormFields f;
    for (const auto& [k, v] : j.items()) f.emplace_back(k, v.get<std::string>());
    return f;
}

json form_json(const FormFields& f) {
    json j = json::object();
    for (const auto& [k, v] : f) j[k] = v;
    return j;
}

// Parses `example`; returns the re-serialized JSON, or nullopt when rejected.
using RoundTrip = std::function<std::optional<json>(const json&)>;

template <class Parse, class Serialize>
RoundTrip json_message(Parse parse, Serialize serialize) {
    return [=](const json& j) -> std::optional<json> {
        auto m = parse(j);
        if (!m) return std::nullopt;
        return serialize(*m);
    };
}

template <class Parse>
RoundTrip form_message(Parse parse) {
    return [=](const json& j) -> std::optional<json> {
        auto m = parse(form(j));
        if (!m) return std::nullopt;
        return form_json(to_form(*m));
    };
}

// The coordinator's types work on nlohmann::ordered_json (a reply's key
// order is part of its bytes); the examples are compared as plain json.
template <class Parse>
RoundTrip ordered_message(Parse parse) {
    return [=](const json& j) -> std::optional<json> {
        auto m = parse(nlohmann::ordered_json::parse(j.dump()));
        if (!m) return std::nullopt;
        return json::parse(coordinator::to_json(*m).dump());
    };
}

const std::map<std::string, RoundTrip>& messages() {
    static const std::map<std::string, RoundTrip> m = {
        {"worker/register_request", form_message(parse_register_request)},
        {"worker/register_reply", json_message(parse_register_reply, [](auto& x) { return to_json(x); })},
        {"worker/ping_reply", json_message(parse_ping_reply, [](auto& x) { return to_json(x); })},
        {"worker/job_payload", json_message(parse_job_payload, [](auto& x) { return to_json(x); })},
        {"worker/state_post", form_message(parse_state_post)},
        {"worker/log_batch", form_message(parse_log_batch_form)},
        {"worker/log_reply", json_message(parse_log_reply, [](auto& x) { return to_json(x); })},
        {"worker/error_reply", json_message(parse_error_reply, [](auto& x) { return to_json(x); })},
        {"events/testjob", json_message(parse_testjob_event, [](auto& x) { return to_json(x); })},
        {"events/device", json_message(parse_device_event, [](auto& x) { return to_json(x); })},
        {"events/worker", json_message(parse_worker_event, [](auto& x) { return to_json(x); })},
        {"events/event", json_message(parse_log_event, [](auto& x) { return to_json(x); })},
        {"events/log", json_message(parse_log_notice, [](auto& x) { return to_json(x); })},
        {"coordinator/request", ordered_message(coordinator::parse_request)},
        {"coordinator/reply", ordered_message(coordinator::parse_reply)},
        {"events/frames", [](const json& j) -> std::optional<json> {
             auto e = parse_websocket_text(j.dump());
             if (!e) return std::nullopt;
             return json::parse(to_websocket_text(*e));
         }},
    };
    return m;
}

TEST(ProtoGolden, EverySchemaHasExamplesAndACppType) {
    int schemas = 0;
    for (const auto& entry : fs::recursive_directory_iterator(proto_dir())) {
        const auto name = entry.path().filename().string();
        if (name.size() < 12 || name.substr(name.size() - 12) != ".schema.json") continue;
        ++schemas;
        const std::string family = entry.path().parent_path().filename().string();
        const std::string message = name.substr(0, name.size() - 12);
        const fs::path examples = entry.path().parent_path() / "examples" / message;
        EXPECT_TRUE(fs::is_directory(examples)) << examples;
        if (family + "/" + message == "logs/record") continue;  // tested below, as lines
        EXPECT_TRUE(messages().count(family + "/" + message)) << "no C++ type tested for " << family << "/" << message;
    }
    EXPECT_GE(schemas, 16);
}

TEST(ProtoGolden, JsonAndFormMessages) {
    int valid = 0;
    int invalid = 0;
    for (const auto& [name, round_trip] : messages()) {
        const fs::path dir = proto_dir() / fs::path(name).parent_path() / "examples" / fs::path(name).filename();
        for (const auto& entry : fs::directory_iterator(dir)) {
            const auto file = entry.path().filename().string();
            const json example = json::parse(slurp(entry.path()));
            const auto back = round_trip(example);
            if (file.rfind("valid", 0) == 0) {
                ++valid;
                ASSERT_TRUE(back) << name << "/" << file << " rejected";
                EXPECT_EQ(*back, example) << name << "/" << file;
            } else {
                ++invalid;
                EXPECT_FALSE(back) << name << "/" << file << " accepted";
            }
        }
    }
    EXPECT_GE(valid, 15);
    EXPECT_GE(invalid, 15);
}

TEST(ProtoGolden, LogLinesRoundTripByteForByte) {
    int valid = 0;
    for (const auto& entry : fs::directory_iterator(proto_dir() / "logs" / "examples" / "record")) {
        const auto file = entry.path().filename().string();
        std::string line = slurp(entry.path());
        ASSERT_FALSE(line.empty());
        line.pop_back();  // the newline
        auto parsed = parse_log_batch(line);
        if (file.rfind("valid", 0) == 0) {
            ++valid;
            ASSERT_TRUE(parsed) << file << ": " << parsed.error().message;
            ASSERT_EQ(parsed->size(), 1u);
            EXPECT_EQ("- " + dump_log_record((*parsed)[0].record), line) << file;
        } else {
            EXPECT_FALSE(parsed) << file << " accepted";
        }
    }
    EXPECT_GE(valid, 5);
}

}  // namespace
}  // namespace lava::proto
