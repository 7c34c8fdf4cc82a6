// lava-run's MultiNode client (worker/run/multinode) against a real
// lava-coordinator server in-process on a free port: the group's
// registration, the DUT's signals turned into requests and answers typed
// back, LAVA's key=value rules, timeouts, an unreachable coordinator.
#include "common/data/value.hpp"
#include "common/yaml/load.hpp"
#include "server/coordinator/server.hpp"
#include "worker/run/job_error.hpp"
#include "worker/run/job_log.hpp"
#include "worker/run/multinode.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

namespace lava::worker::run {
namespace {

namespace coord = server::coordinator;

// A lava-coordinator on 127.0.0.1, any free port, for one test.
struct LiveCoordinator {
    LiveCoordinator() : server(options(), {}) { thread = std::thread([this] { server.run(); }); }
    ~LiveCoordinator() {
        server.stop();
        thread.join();
    }
    static coord::ServerOptions options() {
        coord::ServerOptions o;
        o.bind = "127.0.0.1";
        o.port = 0;
        return o;
    }
    // LAVA's settings file pointing at it.
    std::string config(const std::string& dir, int poll_delay = 1) const {
        const auto path = dir + "/lava-coordinator.conf";
        std::ofstream(path) << "{\"port\": " << server.port() << ", \"blocksize\": 4096, \"poll_delay\": " << poll_delay
                            << ", \"coordinator_hostname\": \"127.0.0.1\"}\n";
        return path;
    }
    coord::Server server;
    std::thread thread;
};

struct Node {
    Node(const std::string& id, const std::string& role, const std::string& extra = "")
        : job(common::yaml::load("protocols:\n  lava-multinode:\n    target_group: g-unit\n    role: " + role +
                                 "\n    group_size: 2\n    timeout: {seconds: 3}\n    roles: {'1': server, '2': client}\n" +
                                 extra)
                  .value()) {
        protocol = MultinodeProtocol::from_job(job, id, log, canceled, -1);
    }
    std::vector<std::string> lines;
    JobLog log{"", false, [this](std::string line) { lines.push_back(std::move(line)); }};
    std::atomic<bool> canceled{false};
    common::data::Value job;
    std::unique_ptr<MultinodeProtocol> protocol;
};

class MultinodeClient : public ::testing::Test {
protected:
    void SetUp() override {
        dir = std::filesystem::temp_directory_path() / ("lava-multinode-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir);
    }
    void TearDown() override { std::filesystem::remove_all(dir); }
    std::filesystem::path dir;
};

TEST_F(MultinodeClient, ASingleNodeJobHasNoProtocol) {
    std::vector<std::string> lines;
    JobLog log{"", false, [&](std::string line) { lines.push_back(std::move(line)); }};
    std::atomic<bool> canceled{false};
    EXPECT_EQ(MultinodeProtocol::from_job(common::yaml::load("job_name: x\n").value(), "1", log, canceled, -1), nullptr);
}

TEST_F(MultinodeClient, GroupMessagesWaitsAndSyncs) {
    LiveCoordinator coordinator;
    const auto config = coordinator.config(dir.string());
    Node server("1", "server"), client("2", "client");
    ASSERT_TRUE(server.protocol && client.protocol);
    EXPECT_EQ(server.protocol->roles(), (std::vector<std::pair<std::string, std::string>>{{"1", "server"}, {"2", "client"}}));
    // Both register; neither returns before the other has.
    auto joined = std::async(std::launch::async, [&] { server.protocol->set_up(config); });
    client.protocol->set_up(config);
    joined.get();

    // LAVA's rules: words after the ID that hold exactly one '=' are data.
    auto sent = client.protocol->signal("SEND", "hello ip=10.0.0.2 name=c bad=x=y plain");
    EXPECT_EQ(sent.line, "");  // a send is not answered on the console
    EXPECT_EQ(sent.test_case, "multinode-send-hello");
    auto waited = server.protocol->signal("WAIT", "hello");
    EXPECT_EQ(waited.line, "<LAVA_WAIT_COMPLETE 2:ip=10.0.0.2 2:name=c>");
    EXPECT_EQ(waited.test_case, "multinode-wait-hello");

    // wait-all: every node must have sent; a role narrows it.
    client.protocol->signal("SEND", "Ready k=v");
    server.protocol->signal("SEND", "Ready k=w");
    EXPECT_EQ(server.protocol->signal("WAIT_ALL", "Ready").line, "<LAVA_WAIT_ALL_COMPLETE 2:k=v 1:k=w>");
    EXPECT_EQ(server.protocol->signal("WAIT_ALL", "Ready").test_case, "multinode-wait_all-ready");

    auto synced = std::async(std::launch::async, [&] { return server.protocol->signal("SYNC", "done"); });
    EXPECT_EQ(client.protocol->signal("SYNC", "done").line, "<LAVA_SYNC_COMPLETE>");
    EXPECT_EQ(synced.get().line, "<LAVA_SYNC_COMPLETE>");

    server.protocol->finalise();
    client.protocol->finalise();
}

TEST_F(MultinodeClient, ADelayedRoleStartsWhenItsExpectRoleSendsLavaStart) {
    LiveCoordinator coordinator;
    const auto config = coordinator.config(dir.string());
    Node server("1", "server");
    Node client("2", "client", "    request: lava-start\n    expect_role: server\n");
    std::atomic<bool> client_started{false};
    auto delayed = std::async(std::launch::async, [&] {
        client.protocol->set_up(config);
        client_started = true;
    });
    server.protocol->set_up(config);
    // The group is complete, but the client waits for lava_start...
    EXPECT_EQ(delayed.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
    EXPECT_FALSE(client_started);
    // ... which the server's job sends from an action's protocol call.
    const auto parameters = common::yaml::load(
                                "protocols:\n  lava-multinode:\n  - action: other-action\n    request: lava-sync\n"
                                "    messageID: not-this-one\n  - action: boot-image-retry\n    request: lava-send\n"
                                "    messageID: lava_start\n    message: {ip: 10.0.0.1}\n")
                                .value();
    server.protocol->action_calls("boot-image-retry", parameters);
    delayed.get();
    EXPECT_TRUE(client_started);
    // The data came with it, as the client's wait-all for lava_start shows.
    EXPECT_EQ(client.protocol->signal("WAIT_ALL", "lava_start server").line,
              "<LAVA_WAIT_ALL_COMPLETE 1:ip=10.0.0.1>");
}

TEST_F(MultinodeClient, AWaitNobodyAnswersIsAMultinodeTimeoutNamingIt) {
    LiveCoordinator coordinator;
    const auto config = coordinator.config(dir.string());
    Node server("1", "server"), client("2", "client");
    auto joined = std::async(std::launch::async, [&] { server.protocol->set_up(config); });
    client.protocol->set_up(config);
    joined.get();
    const auto reply = server.protocol->signal("SYNC", "never");
    ASSERT_TRUE(reply.timeout) << "no timeout";
    EXPECT_EQ(reply.timeout->type(), ErrorType::kMultinodeTimeout);
    EXPECT_NE(std::string(reply.timeout->what()).find("lava-sync 'never'"), std::string::npos) << reply.timeout->what();
    EXPECT_EQ(reply.test_case, "multinode-sync-never");  // the test case the test shell then fails
    EXPECT_EQ(reply.line, "");
}

TEST_F(MultinodeClient, MissingSettingsOrSilentCoordinatorAreTheLabsFault) {
    Node node("1", "server");
    try {
        node.protocol->set_up((dir / "absent.conf").string());
        FAIL() << "set up without settings";
    } catch (const JobFailure& e) {
        EXPECT_EQ(e.type(), ErrorType::kInfrastructure);
        EXPECT_STREQ(e.what(), "Missing coordinator configuration");
    }
    // A port nobody listens on: an Infrastructure error, not a group timeout.
    std::uint16_t port = 0;
    {
        LiveCoordinator gone;
        port = gone.server.port();
    }
    const auto path = (dir / "dead.conf").string();
    std::ofstream(path) << "{\"port\": " << port << ", \"poll_delay\": 1, \"coordinator_hostname\": \"127.0.0.1\"}";
    Node lonely("1", "server", "    request: lava-start\n    expect_role: client\n");
    try {
        lonely.protocol->set_up(path);
        FAIL() << "set up without a coordinator";
    } catch (const JobFailure& e) {
        EXPECT_EQ(e.type(), ErrorType::kInfrastructure) << e.what();
        EXPECT_NE(std::string(e.what()).find("did not answer"), std::string::npos) << e.what();
    }
}

TEST_F(MultinodeClient, TheReplyBytesAreLavas) {
    LiveCoordinator coordinator;
    lava::worker::run::CoordinatorSettings s;
    s.host = "127.0.0.1";
    s.port = coordinator.server.port();
    const auto reply = MultinodeProtocol::exchange(
        s,
        "{\"port\": 3079, \"blocksize\": 4096, \"poll_delay\": 1, \"host\": \"h\", \"hostname\": \"w\", "
        "\"client_name\": \"7\", \"group_name\": \"g\", \"role\": \"r\", \"request\": \"group_data\", \"group_size\": 1}",
        std::chrono::steady_clock::now() + std::chrono::seconds(5));
    ASSERT_TRUE(reply);
    EXPECT_EQ(*reply, "{\"response\": \"group_data\", \"roles\": {\"7\": \"r\"}}");
}

}  // namespace
}  // namespace lava::worker::run
