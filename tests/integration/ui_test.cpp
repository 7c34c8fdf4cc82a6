// The web UI's pages through lava-server's App (no HTTP): each page's data
// (its ?format=json) for an anonymous visitor and for a user, private jobs
// left out, and every page's HTML escaping what users wrote.

#include "integration/pg_fixture.hpp"

#include "common/async/blocking.hpp"
#include "common/db/pool.hpp"
#include "common/net/url.hpp"
#include "server/web/app.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <random>

namespace lava::test {
namespace {

namespace web = server::web;

const std::string kHostile = "<script>alert(1)</script>&\"'";

std::string job_yaml(const std::string& name, const std::string& visibility) {
    return "job_name: " + nlohmann::json(name).dump() + "\ndevice_type: qemu\nvisibility: " + visibility +
           "\ntimeouts: {job: {minutes: 5}}\nactions:\n"
           "- deploy: {to: tmpfs, images: {rootfs: {url: \"https://example.com/r.img\"}}}\n"
           "- boot: {method: qemu, media: tmpfs, prompts: [\"# \"]}\n";
}

class UiPages : public PgTest {
protected:
    void SetUp() override {
        PgTest::SetUp();
        migrate();
        for (const auto& args : std::vector<std::vector<std::string>>{
                 {"manage", "users", "add", "alice", "--passwd", "alice-pw"},
                 {"manage", "users", "add", "bob", "--passwd", "bob-pw"},
                 {"manage", "device-types", "add", "qemu", "--description", kHostile},
                 {"manage", "workers", "add", "worker01"},
                 {"manage", "devices", "add", "qemu01", "--device-type", "qemu", "--worker", "worker01"},
             }) {
            auto r = cli(args);
            ASSERT_EQ(r.code, 0) << r.err;
        }
        auto token = cli({"manage", "tokens", "add", "--user", "alice"});
        ASSERT_EQ(token.code, 0) << token.err;
        alice_token_ = token.out;  // the secret, on the last line
        while (!alice_token_.empty() && alice_token_.back() == '\n') alice_token_.pop_back();
        alice_token_ = alice_token_.substr(alice_token_.find_last_of('\n') + 1);
        output_ = std::filesystem::temp_directory_path() / ("lava-ui-test-" + std::to_string(std::random_device{}()));
        web::ServerSettings settings;
        settings.web.job_output = output_.string();
        settings.web.dispatcher_config = output_.string();
        settings.web.event_socket = "ipc://" + (output_ / "events").string();
        settings.web.response_cache_ms = 0;
        pool_ = std::make_unique<common::db::Pool>(conninfo(), 2);
        blocking_ = std::make_unique<common::async::BlockingPool>(1);
        app_ = std::make_unique<web::App>(settings, *pool_, *blocking_);
        public_ = submit(job_yaml(kHostile, "public"));
        private_ = submit(job_yaml("alice only", "personal"));
    }
    void TearDown() override {
        app_.reset();
        blocking_.reset();
        pool_.reset();
        std::filesystem::remove_all(output_);
        PgTest::TearDown();
    }

    web::HttpResponse request(const std::string& method, const std::string& target, const std::string& token = "",
                              const std::string& body = "") {
        web::HttpRequest r;
        r.method = method;
        r.target = target;
        const auto q = target.find('?');
        r.path = common::net::url_decode(target.substr(0, q), false);
        r.query = q == std::string::npos ? "" : target.substr(q + 1);
        r.headers.emplace_back("host", "lava.test");
        if (!token.empty()) r.headers.emplace_back("authorization", "Token " + token);
        if (!body.empty()) r.headers.emplace_back("content-type", "application/x-www-form-urlencoded");
        r.body = body;
        return app_->handle_sync(r);
    }
    std::int64_t submit(const std::string& yaml) {
        auto r = request("POST", "/api/v0.2/jobs/", alice_token_,
                         common::net::encode_form({{"definition", yaml}}));
        EXPECT_EQ(r.status, 201) << r.body;
        return nlohmann::json::parse(r.body)["job_ids"][0].get<std::int64_t>();
    }
    nlohmann::json data(const std::string& path, const std::string& token = "") {
        auto r = request("GET", path + (path.find('?') == std::string::npos ? "?" : "&") + "format=json", token);
        EXPECT_EQ(r.status, 200) << path << ": " << r.body;
        return nlohmann::json::parse(r.body);
    }
    static std::vector<std::int64_t> ids(const nlohmann::json& rows) {
        std::vector<std::int64_t> out;
        for (const auto& row : rows) out.push_back(row["id"].get<std::int64_t>());
        return out;
    }

    std::filesystem::path output_;
    std::unique_ptr<common::db::Pool> pool_;
    std::unique_ptr<common::async::BlockingPool> blocking_;
    std::unique_ptr<web::App> app_;
    std::string alice_token_;
    std::int64_t public_ = 0;
    std::int64_t private_ = 0;
};

TEST_F(UiPages, JobListsAndTheJobPageShowWhatTheViewerMaySee) {
    const auto anonymous = data("/scheduler/alljobs");
    EXPECT_EQ(ids(anonymous["jobs"]), std::vector<std::int64_t>{public_});
    const auto& row = anonymous["jobs"][0];
    EXPECT_EQ(row["description"], kHostile);
    EXPECT_EQ(row["state"], "Submitted");
    EXPECT_EQ(row["submitter"], "alice");
    EXPECT_EQ(row["device_type"], "qemu");
    EXPECT_TRUE(anonymous["newer"].is_null());
    EXPECT_EQ(ids(data("/scheduler/alljobs", alice_token_)["jobs"]), (std::vector<std::int64_t>{private_, public_}));
    const auto queue = data("/scheduler/queue", alice_token_);
    EXPECT_EQ(queue["count"], 2);
    EXPECT_EQ(queue["jobs"][0]["position"], 1);
    const auto job = data("/scheduler/job/" + std::to_string(public_));
    EXPECT_EQ(job["job"]["id"], public_);
    EXPECT_EQ(job["log"]["lines"], 0);
    EXPECT_FALSE(job["can_cancel"].get<bool>());  // anonymous
    EXPECT_TRUE(data("/scheduler/job/" + std::to_string(public_), alice_token_)["can_cancel"].get<bool>());
    EXPECT_EQ(request("GET", "/scheduler/job/" + std::to_string(private_)).status, 404);
    EXPECT_EQ(request("GET", "/scheduler/job/" + std::to_string(private_) + "/log_lines").status, 404);
}

TEST_F(UiPages, LabPagesData) {
    const auto home = data("/");
    ASSERT_EQ(home["types"].size(), 1u);
    EXPECT_EQ(home["types"][0]["name"], "qemu");
    EXPECT_EQ(home["types"][0]["queue"], 1);  // the public job; the private one is alice's
    EXPECT_EQ(home["types"][0]["offline"], 1);  // worker01 never pinged
    const auto devices = data("/scheduler/alldevices");
    ASSERT_EQ(devices["devices"].size(), 1u);
    EXPECT_EQ(devices["devices"][0]["status"], "offline");
    const auto device = data("/scheduler/device/qemu01");
    EXPECT_EQ(device["device"]["worker"], "worker01");
    EXPECT_FALSE(device["can_change"].get<bool>());
    EXPECT_EQ(data("/scheduler/device_type/qemu")["type"]["description"], kHostile);
    EXPECT_EQ(data("/scheduler/allworkers")["workers"][0]["hostname"], "worker01");
    EXPECT_EQ(request("GET", "/scheduler/device/nope").status, 404);
}

// Every page's HTML: the hostile description and device-type description
// appear escaped, never as markup; and every page carries the CSP.
TEST_F(UiPages, EveryPageEscapesWhatUsersWrote) {
    const std::string escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&#34;&#39;";
    const std::string job = "/scheduler/job/" + std::to_string(public_);
    for (const std::string& path : std::vector<std::string>{"/", "/scheduler/alljobs", "/scheduler/queue", "/scheduler/activejobs",
                                   job, "/scheduler/device_types",
                                   "/scheduler/device_type/qemu", "/scheduler/alldevices",
                                   "/scheduler/device/qemu01", "/scheduler/allworkers", "/results/",
                                   job + "/definition", "/api/help/",
                                   "/accounts/login/"}) {
        const auto r = request("GET", path);
        ASSERT_EQ(r.status, 200) << path;
        EXPECT_EQ(r.content_type, "text/html; charset=utf-8") << path;
        EXPECT_EQ(r.body.find("<script>alert"), std::string::npos) << path;
        bool csp = false;
        for (const auto& [k, v] : r.headers) csp = csp || (k == "Content-Security-Policy" && v.find("script-src 'self'") != std::string::npos);
        EXPECT_TRUE(csp) << path;
    }
    for (const std::string& path : std::vector<std::string>{"/scheduler/alljobs", job, "/scheduler/device_type/qemu"}) {
        EXPECT_NE(request("GET", path).body.find(escaped), std::string::npos) << path;
    }
}

}  // namespace
}  // namespace lava::test
