#include "common/metrics/metrics.hpp"
#include "server/events/job_metrics.hpp"
#include "server/scheduler/daemon.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace lava::common::metrics {
namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(Metrics, CountersAndGaugesRenderInTheTextFormat) {
    Registry r;
    auto& requests = r.counter("lava_test_requests_total", "Requests\nanswered \\ so far", {"route", "status"});
    requests.with({"/api/v0.2/jobs/{id}/", "200"}).inc();
    requests.with({"/api/v0.2/jobs/{id}/", "200"}).inc(2);
    requests.with({"a\"b\\c\nd", "404"}).inc();
    r.gauge("lava_test_temperature", "A gauge").with().set(-1.5);
    const auto text = r.render();
    EXPECT_TRUE(has(text, "# HELP lava_test_requests_total Requests\\nanswered \\\\ so far\n"
                          "# TYPE lava_test_requests_total counter\n"))
        << text;
    EXPECT_TRUE(has(text, "lava_test_requests_total{route=\"/api/v0.2/jobs/{id}/\",status=\"200\"} 3\n")) << text;
    EXPECT_TRUE(has(text, "lava_test_requests_total{route=\"a\\\"b\\\\c\\nd\",status=\"404\"} 1\n")) << text;
    EXPECT_TRUE(has(text, "# TYPE lava_test_temperature gauge\nlava_test_temperature -1.5\n")) << text;
    // Families come out sorted by name, each line ends with a newline.
    EXPECT_LT(text.find("lava_metrics_collect_errors_total"), text.find("lava_test_requests_total"));
    EXPECT_EQ(text.back(), '\n');
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
    Registry r;
    auto& h = r.histogram("lava_test_seconds", "Latency", {"route"}, {0.1, 1, 10}).with({"x"});
    for (double v : {0.05, 0.1, 0.5, 5.0, 50.0}) h.observe(v);
    const auto text = r.render();
    EXPECT_TRUE(has(text, "# TYPE lava_test_seconds histogram\n"
                          "lava_test_seconds_bucket{route=\"x\",le=\"0.1\"} 2\n"
                          "lava_test_seconds_bucket{route=\"x\",le=\"1\"} 3\n"
                          "lava_test_seconds_bucket{route=\"x\",le=\"10\"} 4\n"
                          "lava_test_seconds_bucket{route=\"x\",le=\"+Inf\"} 5\n"
                          "lava_test_seconds_sum{route=\"x\"} 55.65\n"
                          "lava_test_seconds_count{route=\"x\"} 5\n"))
        << text;
}

TEST(Metrics, TheSameNameGivesTheSameFamilyAndClearForgetsChildren) {
    Registry r;
    auto& a = r.gauge("lava_test_queue", "Queue", {"device_type"});
    auto& b = r.gauge("lava_test_queue", "Queue", {"device_type"});
    EXPECT_EQ(&a, &b);
    a.with({"qemu"}).set(3);
    EXPECT_TRUE(has(r.render(), "lava_test_queue{device_type=\"qemu\"} 3\n"));
    a.clear();
    EXPECT_FALSE(has(r.render(), "device_type=\"qemu\""));
}

TEST(Metrics, CollectorsRunAtEachRenderAndTheirFailuresAreCounted) {
    Registry r;
    auto& g = r.gauge("lava_test_read_at_scrape", "Read at scrape time").with();
    int calls = 0;
    r.on_collect([&] { g.set(++calls); });
    r.on_collect([] { throw std::runtime_error("database unavailable"); });
    EXPECT_TRUE(has(r.render(), "lava_test_read_at_scrape 1\n"));
    const auto text = r.render();
    EXPECT_TRUE(has(text, "lava_test_read_at_scrape 2\n")) << text;
    EXPECT_TRUE(has(text, "lava_metrics_collect_errors_total 2\n")) << text;
}

TEST(Metrics, ConcurrentUpdatesAreAllCounted) {
    Registry r;
    auto& family = r.counter("lava_test_total", "Concurrent", {"t"});
    auto& h = r.histogram("lava_test_h", "Concurrent", {}, {1}).with();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 10000; ++i) {
                family.with({"same"}).inc();
                h.observe(0.5);
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(family.with({"same"}).value(), 40000);
    EXPECT_EQ(h.snapshot().count, 40000u);
}

TEST(Metrics, ProcessMetricsReadProcSelf) {
    Registry r;
    add_process_metrics(r);
    const auto text = r.render();
    for (const char* name : {"process_cpu_seconds_total ", "process_resident_memory_bytes ", "process_open_fds ",
                             "process_start_time_seconds ", "process_virtual_memory_bytes ", "process_threads "}) {
        const auto at = text.find(std::string("\n") + name);
        ASSERT_NE(at, std::string::npos) << name << "\n" << text;
        EXPECT_GT(std::stod(text.substr(at + 1 + std::string(name).size())), 0) << name;
    }
    EXPECT_TRUE(has(text, "lava_metrics_collect_errors_total 0\n")) << text;
}

TEST(JobMetrics, EventsOfCommittedTransitionsBecomeCountsAndHistograms) {
    Registry r;
    server::events::JobMetrics jobs(r);
    const auto at = std::chrono::system_clock::from_time_t(1764930000) + std::chrono::milliseconds(500);  // 2025-12-05T10:20:00.5Z
    jobs.observe({{".testjob", "u",
                   R"({"job": 7, "state": "Submitted", "health": "Unknown", "device_type": "qemu",
                       "submit_time": "2025-12-05T10:19:00+00:00"})"},
                  {".device", "u", R"({"device": "qemu01", "state": "Idle"})"},
                  {".testjob", "u",
                   R"({"job": 7, "state": "Scheduled", "health": "Unknown", "device_type": "qemu",
                       "submit_time": "2025-12-05T10:19:50.250000+00:00"})"},
                  {".testjob", "u",
                   R"({"job": 7, "state": "Finished", "health": "Complete", "device_type": "qemu",
                       "submit_time": "2025-12-05T10:19:50+00:00", "start_time": "2025-12-05T10:20:01+00:00",
                       "end_time": "2025-12-05T10:21:31.5+00:00"})"},
                  {".testjob", "u", "not json"}},
                 at);
    const auto text = r.render();
    EXPECT_TRUE(has(text, "lava_jobs_submitted_total{device_type=\"qemu\"} 1\n")) << text;
    EXPECT_TRUE(has(text, "lava_job_transitions_total{state=\"Scheduled\",health=\"Unknown\"} 1\n")) << text;
    EXPECT_TRUE(has(text, "lava_job_queue_wait_seconds_sum{device_type=\"qemu\"} 10.25\n")) << text;
    EXPECT_TRUE(has(text, "lava_job_duration_seconds_sum{device_type=\"qemu\",health=\"Complete\"} 90.5\n")) << text;
    EXPECT_TRUE(has(text, "lava_job_duration_seconds_bucket{device_type=\"qemu\",health=\"Complete\",le=\"60\"} 0\n"))
        << text;
    EXPECT_TRUE(has(text, "lava_job_duration_seconds_bucket{device_type=\"qemu\",health=\"Complete\",le=\"120\"} 1\n"))
        << text;
}

TEST(JobMetrics, EventTimesParseWithAndWithoutFractions) {
    EXPECT_EQ(server::events::event_time_seconds("1970-01-01T00:00:10+00:00"), 10.0);
    EXPECT_DOUBLE_EQ(*server::events::event_time_seconds("1970-01-01T00:01:00.250000+00:00"), 60.25);
    EXPECT_EQ(server::events::event_time_seconds(""), std::nullopt);
    EXPECT_EQ(server::events::event_time_seconds("yesterday"), std::nullopt);
}

TEST(SchedulerMetrics, QueueReasonsBecomeBoundedLabels) {
    using server::scheduler::reason_category;
    EXPECT_EQ(reason_category("no device of type 'qemu'"), "no_device");
    EXPECT_EQ(reason_category("no usable device of type 'qemu': 1 device in Maintenance, ..."), "no_usable_device");
    EXPECT_EQ(reason_category("all usable devices of type 'qemu' are busy (2 devices)"), "busy");
    EXPECT_EQ(reason_category("queued behind MultiNode group 12 ..."), "multinode");
    EXPECT_EQ(reason_category("waiting for a free device of type 'qemu' that it may use"), "restricted");
    EXPECT_EQ(reason_category(""), "unknown");
}

}  // namespace
}  // namespace lava::common::metrics
