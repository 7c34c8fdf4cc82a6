// lava-coordinator without sockets: the golden sequences of
// proto/coordinator/sequences (LAVA 2023.01's own replies, byte for byte)
// through an in-process Groups; the framing and Python-compatible JSON of
// common/proto/coordinator; the requests LAVA's coordinator would die on;
// forgetting idle groups. The same sequences run over TCP against the daemon
// and against LAVA's coordinator in tests/functional/test_coordinator.py.
#include "common/proto/coordinator.hpp"
#include "server/coordinator/groups.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

namespace lava::server::coordinator {
namespace {

namespace fs = std::filesystem;
namespace wire = proto::coordinator;
using namespace std::chrono_literals;

fs::path sequences_dir() {
    return fs::path(LAVA_SOURCE_DIR) / "proto" / "coordinator" / "sequences";
}

Json load(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return Json::parse(s.str());
}

// What LAVA's client sends for one step: its base message, updated with the
// call (keys already there keep their place, new ones go last, as dict.update).
Json step_request(const Json& seq, const Json& step) {
    const std::string client = step["client"].get<std::string>();
    Json request = Json::object();
    request["port"] = 3079;
    request["blocksize"] = 4096;
    request["poll_delay"] = 3;
    request["host"] = "localhost";
    request["hostname"] = seq["clients"][client]["hostname"];
    request["client_name"] = client;
    request["group_name"] = seq["group_name"];
    request["role"] = seq["clients"][client]["role"];
    for (const auto& [key, value] : step["call"].items()) request[key] = value;
    return request;
}

TEST(CoordinatorSequences, EveryGoldenSequenceGivesLavasExactBytes) {
    int sequences = 0;
    int steps = 0;
    for (const auto& entry : fs::directory_iterator(sequences_dir())) {
        if (entry.path().extension() != ".json") continue;
        ++sequences;
        const Json seq = load(entry.path());
        const std::string name = entry.path().filename().string();
        Groups groups;
        auto now = Clock::time_point{} + 1h;
        int i = 0;
        for (const auto& step : seq["steps"]) {
            // As the daemon sees it: the JSON text LAVA's client writes, parsed.
            const Json request = Json::parse(wire::python_dumps(step_request(seq, step)));
            const Reply reply = groups.handle(request, now);
            now += 1s;
            const std::optional<std::string> got =
                reply.payload ? std::optional<std::string>(wire::frame(*reply.payload))
                              : std::nullopt;
            const auto& expected = step["reply"];
            if (expected.is_null()) {
                EXPECT_FALSE(got) << name << " step " << i << ": " << *got;
            } else {
                EXPECT_EQ(got.value_or("(closed without a reply)"), expected.get<std::string>())
                    << name << " step " << i << ": " << step["call"].dump();
            }
            ++i;
            ++steps;
        }
    }
    EXPECT_GE(sequences, 10);
    EXPECT_GE(steps, 150);
}

// ---- Python's json.dumps -------------------------------------------------

std::string dumps_float(double v) { return wire::python_dumps(Json(v)); }

TEST(CoordinatorPythonDumps, FloatsAsPythonRepr) {
    EXPECT_EQ(dumps_float(1.0), "1.0");
    EXPECT_EQ(dumps_float(100.0), "100.0");
    EXPECT_EQ(dumps_float(2.5), "2.5");
    EXPECT_EQ(dumps_float(0.1), "0.1");
    EXPECT_EQ(dumps_float(0.3), "0.3");
    EXPECT_EQ(dumps_float(1.0 / 3), "0.3333333333333333");
    EXPECT_EQ(dumps_float(-0.0), "-0.0");
    // Fixed notation for decimal exponents in [-4, 16), else d.ddde±XX.
    EXPECT_EQ(dumps_float(1e15), "1000000000000000.0");
    EXPECT_EQ(dumps_float(1e16), "1e+16");
    EXPECT_EQ(dumps_float(9007199254740993.0), "9007199254740992.0");
    EXPECT_EQ(dumps_float(123456789012345678.0), "1.2345678901234568e+17");
    EXPECT_EQ(dumps_float(1e22), "1e+22");
    EXPECT_EQ(dumps_float(0.0001), "0.0001");
    EXPECT_EQ(dumps_float(1e-05), "1e-05");
    EXPECT_EQ(dumps_float(1.5e-05), "1.5e-05");
    EXPECT_EQ(dumps_float(-1.5e-300), "-1.5e-300");
    EXPECT_EQ(dumps_float(5e-324), "5e-324");
    EXPECT_EQ(dumps_float(1.7976931348623157e308), "1.7976931348623157e+308");
    EXPECT_EQ(dumps_float(std::numeric_limits<double>::quiet_NaN()), "NaN");
    EXPECT_EQ(dumps_float(std::numeric_limits<double>::infinity()), "Infinity");
    EXPECT_EQ(dumps_float(-std::numeric_limits<double>::infinity()), "-Infinity");
}

TEST(CoordinatorPythonDumps, StringsAsciiOnlyWithPythonEscapes) {
    EXPECT_EQ(wire::python_dumps(Json("caf\u00e9")), R"("caf\u00e9")");
    EXPECT_EQ(wire::python_dumps(Json("\u65e5\u672c")), R"("\u65e5\u672c")");
    // Above U+FFFF: a UTF-16 surrogate pair, lower-case hex.
    EXPECT_EQ(wire::python_dumps(Json("\U0001F600")), R"("\ud83d\ude00")");
    EXPECT_EQ(wire::python_dumps(Json("\U0010FFFF")), R"("\udbff\udfff")");
    EXPECT_EQ(wire::python_dumps(Json("\uFFFF")), R"("\uffff")");
    // Control characters: the five short escapes, \u00XX for the others and DEL.
    EXPECT_EQ(wire::python_dumps(Json("\n\r\t\b\f")), R"("\n\r\t\b\f")");
    EXPECT_EQ(wire::python_dumps(Json(std::string("a\0b", 3))), R"("a\u0000b")");
    EXPECT_EQ(wire::python_dumps(Json("\x01\x1f\x7f")), R"("\u0001\u001f\u007f")");
    EXPECT_EQ(wire::python_dumps(Json("\u2028")), R"("\u2028")");
    // Quote and backslash escaped, the solidus not.
    EXPECT_EQ(wire::python_dumps(Json("a \"b\" \\c /d")), R"("a \"b\" \\c /d")");
}

TEST(CoordinatorPythonDumps, ContainersWithPythonSeparatorsInOrder) {
    Json v = Json::object();
    v["z"] = Json::array({1, "two", nullptr, true, false, Json::array(), Json::object()});
    v["a"] = Json::object({{"\u00e9", -7}});
    v["big"] = std::numeric_limits<std::uint64_t>::max();
    v["small"] = std::numeric_limits<std::int64_t>::min();
    EXPECT_EQ(wire::python_dumps(v),
              R"({"z": [1, "two", null, true, false, [], {}], "a": {"\u00e9": -7}, )"
              R"("big": 18446744073709551615, "small": -9223372036854775808})");
    EXPECT_EQ(wire::reply("ack"), R"({"response": "ack"})");
}

// ---- framing ---------------------------------------------------------------

TEST(CoordinatorFrame, HeaderIsEightUpperCaseHexDigits) {
    EXPECT_EQ(wire::frame(""), "00000000");
    EXPECT_EQ(wire::frame(R"({"response": "ack"})"), R"(00000013{"response": "ack"})");
    EXPECT_EQ(wire::frame(std::string(300, 'x')).substr(0, 8), "0000012C");
    EXPECT_EQ(wire::frame(std::string(0xFFFE, 'x')).substr(0, 8), "0000FFFE");
}

TEST(CoordinatorFrame, ParseHeaderReadsWhatPythonsIntBase16Reads) {
    EXPECT_EQ(wire::parse_header("00000013"), 19u);
    EXPECT_EQ(wire::parse_header("0000012C"), 300u);
    EXPECT_EQ(wire::parse_header("0000012c"), 300u);
    EXPECT_EQ(wire::parse_header("FFFFFFFF"), 0xFFFFFFFFu);
    EXPECT_EQ(wire::parse_header(" 000001A"), 26u);
    EXPECT_EQ(wire::parse_header("0x00001A"), 26u);
    EXPECT_EQ(wire::parse_header("0X00001a"), 26u);
    EXPECT_EQ(wire::parse_header("00000000"), 0u);
    EXPECT_FALSE(wire::parse_header("0000001G"));
    EXPECT_FALSE(wire::parse_header("{\"reque"));
    EXPECT_FALSE(wire::parse_header("        "));
    EXPECT_FALSE(wire::parse_header(""));
    EXPECT_FALSE(wire::parse_header("0x      "));
    // Python reads -1 and then no payload, which is not JSON: closed either way.
    EXPECT_FALSE(wire::parse_header("-0000001"));
}

// ---- requests LAVA's coordinator dies on -----------------------------------

// LAVA's client's base message (as lava-run builds it).
Json base(const std::string& client, const std::string& group, const std::string& role = "node") {
    wire::Request r;
    r.poll_delay = 3;
    r.host = "localhost";
    r.hostname = "worker-" + client;
    r.client_name = client;
    r.group_name = group;
    r.role = role;
    return wire::to_json(r);
}

Json call(Json request, const Json& keys) {
    for (const auto& [key, value] : keys.items()) request[key] = value;
    return request;
}

const std::string kAck = R"({"response": "ack"})";
const std::string kNack = R"({"response": "nack"})";
const std::string kWait = R"({"response": "wait"})";

struct CoordinatorRobustness : ::testing::Test {
    Groups groups;
    Clock::time_point now = Clock::time_point{} + 1h;

    std::string send(const Json& request) {
        const auto reply = groups.handle(request, now);
        return reply.payload.value_or("(closed)");
    }
    // A complete two-node group "g" of clients "1" (server) and "2" (client).
    void two_nodes() {
        ASSERT_EQ(
            send(call(base("1", "g", "server"), {{"request", "group_data"}, {"group_size", 2}})),
            kWait);
        ASSERT_EQ(
            send(call(base("2", "g", "client"), {{"request", "group_data"}, {"group_size", 2}})),
            R"({"response": "group_data", "roles": {"1": "server", "2": "client"}})");
    }
};

TEST_F(CoordinatorRobustness, MissingGroupNameHostnameOrRoleGetNack) {
    Json no_group = call(base("1", "g"), {{"request", "group_data"}, {"group_size", 2}});
    no_group.erase("group_name");
    EXPECT_EQ(send(no_group), kNack);
    Json no_client = call(base("1", "g"), {{"request", "group_data"}, {"group_size", 2}});
    no_client.erase("client_name");
    EXPECT_EQ(send(no_client), kNack);
    Json no_hostname = call(base("1", "g"), {{"request", "group_data"}, {"group_size", 2}});
    no_hostname.erase("hostname");
    EXPECT_EQ(send(no_hostname), kNack);
    Json no_role = call(base("2", "g"), {{"request", "group_data"}, {"group_size", 2}});
    no_role.erase("role");
    EXPECT_EQ(send(no_role), kNack);
    // Neither was registered: the group still needs two well-formed nodes.
    EXPECT_EQ(groups.client_count(), 0u);
    two_nodes();
    EXPECT_EQ(groups.client_count(), 2u);
    // Once registered, a node's later requests need neither hostname nor role.
    Json send_without_role = call(base("1", "g"), {{"request", "lava_send"}, {"messageID", "m"}});
    send_without_role.erase("role");
    send_without_role.erase("hostname");
    EXPECT_EQ(send(send_without_role), kAck);
}

TEST_F(CoordinatorRobustness, UnknownWaitroleOrOwnRoleGetsWait) {
    two_nodes();
    EXPECT_EQ(send(call(base("2", "g", "client"), {{"request", "lava_send"}, {"messageID", "m"}})),
              kAck);
    EXPECT_EQ(
        send(call(base("2", "g", "client"),
                  {{"request", "lava_wait_all"}, {"messageID", "m"}, {"waitrole", "nobody"}})),
        kWait);
    EXPECT_EQ(
        send(call(base("2", "g", "stranger"),
                  {{"request", "lava_wait_all"}, {"messageID", "m"}, {"waitrole", "server"}})),
        kWait);
    Json no_role = call(base("2", "g"),
                        {{"request", "lava_wait_all"}, {"messageID", "m"}, {"waitrole", "server"}});
    no_role.erase("role");
    EXPECT_EQ(send(no_role), kWait);
    // The group is unharmed.
    EXPECT_EQ(send(call(base("1", "g", "server"), {{"request", "lava_send"}, {"messageID", "m"}})),
              kAck);
    EXPECT_EQ(
        send(call(base("2", "g", "client"),
                  {{"request", "lava_wait_all"}, {"messageID", "m"}, {"waitrole", "server"}})),
        R"({"response": "ack", "message": {"2": {}, "1": {}}})");
}

TEST_F(CoordinatorRobustness, UnhashableNamesAndNonObjectsGetNack) {
    for (const Json& unhashable : {Json::object({{"a", 1}}), Json::array({"1"})}) {
        for (const char* key : {"client_name", "group_name", "role"}) {
            Json r = call(base("1", "bad"), {{"request", "group_data"}, {"group_size", 2}});
            r[key] = unhashable;
            EXPECT_EQ(send(r), kNack) << key << " " << unhashable.dump();
        }
    }
    for (const Json& value :
         {Json::array({"request"}), Json("request"), Json(5), Json(nullptr), Json(true)}) {
        const auto reply = groups.handle(value, now);
        EXPECT_EQ(reply.payload.value_or("(closed)"), kNack) << value.dump();
    }
    EXPECT_EQ(send(call(base("1", "bad"), {{"request", 5}})), kNack);
    EXPECT_EQ(send(call(base("1", "new"), {{"request", "group_data"}, {"group_size", "two"}})),
              kNack);
    EXPECT_EQ(send(call(base("1", "new"), {{"request", "group_data"}, {"group_size", nullptr}})),
              kNack);
    EXPECT_EQ(
        send(call(base("1", "new"), {{"request", "group_data"}, {"group_size", Json::array({2})}})),
        kNack);
    two_nodes();
    EXPECT_EQ(
        send(call(base("1", "g"), {{"request", "lava_send"}, {"messageID", Json::array({1})}})),
        kNack);
    EXPECT_EQ(send(call(base("1", "g"), {{"request", "lava_wait"}, {"messageID", Json::object()}})),
              kNack);
    EXPECT_EQ(send(call(base("1", "g"), {{"request", "lava_sync"}, {"messageID", Json::array()}})),
              kNack);
    EXPECT_EQ(
        send(call(base("1", "g"), {{"request", "lava_wait_all"}, {"messageID", Json::array()}})),
        kNack);
    EXPECT_EQ(send(call(base("1", "g"), {{"request", "aggregate"}, {"bundle", 1}, {"sub_id", 5}})),
              kNack);
    // The group works as before.
    EXPECT_EQ(send(call(base("1", "g"),
                        {{"request", "lava_send"}, {"messageID", "m"}, {"message", {{"k", 1.5}}}})),
              kAck);
    EXPECT_EQ(send(call(base("2", "g"), {{"request", "lava_wait"}, {"messageID", "m"}})),
              R"({"response": "ack", "message": {"1": {"k": 1.5}}})");
}

TEST_F(CoordinatorRobustness, RepliesNameTheirRequestForMetrics) {
    two_nodes();
    auto reply = groups.handle(call(base("1", "g"), {{"request", "complete"}}), now);
    EXPECT_FALSE(reply.payload);
    EXPECT_EQ(reply.request, "complete");
    EXPECT_EQ(reply.response, "");
    reply =
        groups.handle(call(base("1", "g"), {{"request", "lava_sync"}, {"messageID", "s"}}), now);
    EXPECT_EQ(reply.request, "lava_sync");
    EXPECT_EQ(reply.response, "wait");
    // An unknown request name never becomes a label.
    reply = groups.handle(call(base("1", "g"), {{"request", "x-made-up"}}), now);
    EXPECT_EQ(reply.request, "");
    EXPECT_EQ(reply.response, "nack");
}

// ---- bookkeeping -------------------------------------------------------------

TEST_F(CoordinatorRobustness, CountsGroupsAndClientsUntilCleared) {
    EXPECT_EQ(groups.group_count(), 0u);
    two_nodes();
    EXPECT_EQ(send(call(base("9", "h"), {{"request", "group_data"}, {"group_size", 3}})), kWait);
    EXPECT_EQ(groups.group_count(), 2u);
    EXPECT_EQ(groups.client_count(), 3u);
    EXPECT_EQ(send(call(base("1", "g"), {{"request", "clear_group"}, {"group_size", 2}})), kAck);
    EXPECT_EQ(groups.group_count(), 2u);
    EXPECT_EQ(send(call(base("2", "g"), {{"request", "clear_group"}, {"group_size", 2}})), kAck);
    EXPECT_EQ(groups.group_count(), 1u);
    EXPECT_EQ(groups.client_count(), 1u);
}

TEST_F(CoordinatorRobustness, ExpireForgetsGroupsIdleLongerThanTheLimit) {
    const auto t0 = now;
    two_nodes();  // both at t0
    now = t0 + 50s;
    EXPECT_EQ(send(call(base("5", "busy"), {{"request", "group_data"}, {"group_size", 2}})), kWait);
    EXPECT_EQ(groups.expire(t0 + 60s, 60s), 0u);  // idle for exactly the limit: kept
    EXPECT_EQ(groups.group_count(), 2u);
    EXPECT_EQ(groups.expire(t0 + 61s, 60s), 1u);  // "g" forgotten, "busy" kept
    EXPECT_EQ(groups.group_count(), 1u);
    EXPECT_EQ(groups.client_count(), 1u);
    // A forgotten group is unknown: without group_size its nodes get nack.
    now = t0 + 62s;
    EXPECT_EQ(send(call(base("1", "g"), {{"request", "lava_send"}, {"messageID", "m"}})), kNack);
    // Any request keeps a group alive, a refused one too.
    now = t0 + 100s;
    EXPECT_EQ(send(call(base("5", "busy"), {{"request", "x-made-up"}})), kNack);
    EXPECT_EQ(groups.expire(t0 + 150s, 60s), 0u);
    EXPECT_EQ(groups.expire(t0 + 161s, 60s), 1u);
    EXPECT_EQ(groups.group_count(), 0u);
    EXPECT_EQ(groups.client_count(), 0u);
}

}  // namespace
}  // namespace lava::server::coordinator
