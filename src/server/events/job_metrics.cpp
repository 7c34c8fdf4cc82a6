#include "server/events/job_metrics.hpp"

#include "common/metrics/metrics.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <ctime>

namespace lava::server::events {

std::optional<double> event_time_seconds(const std::string& text) {
    std::tm tm{};
    int consumed = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                    &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
        consumed != 19) {
        return std::nullopt;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    double seconds = static_cast<double>(::timegm(&tm));
    std::size_t at = 19;
    if (at < text.size() && text[at] == '.') {
        double scale = 0.1;
        for (++at; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at, scale /= 10) {
            seconds += (text[at] - '0') * scale;
        }
    }
    return seconds;
}

JobMetrics::JobMetrics(common::metrics::Registry& registry)
    : submitted_(registry.counter("lava_jobs_submitted_total", "Jobs submitted (each job of a MultiNode group counts)",
                                  {"device_type"})),
      transitions_(registry.counter("lava_job_transitions_total", "Job state changes, by the state and health reached",
                                    {"state", "health"})),
      queue_wait_(registry.histogram("lava_job_queue_wait_seconds",
                                     "Time from a job's submission to its placement on a device",
                                     {"device_type"}, common::metrics::job_buckets())),
      duration_(registry.histogram("lava_job_duration_seconds", "Time from a job's start to its end on the device",
                                   {"device_type", "health"}, common::metrics::job_buckets())) {}

void JobMetrics::observe(const std::vector<PendingEvent>& events, std::chrono::system_clock::time_point now) {
    for (const auto& e : events) {
        if (e.topic_suffix != ".testjob") continue;
        const auto j = nlohmann::json::parse(e.payload, nullptr, false);
        if (!j.is_object()) continue;
        const auto text = [&j](const char* key) {
            const auto it = j.find(key);
            return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
        };
        const std::string state = text("state");
        const std::string health = text("health");
        const std::string device_type = text("device_type");
        transitions_.with({state, health}).inc();
        if (state == "Submitted") {
            submitted_.with({device_type}).inc();
        } else if (state == "Scheduled") {
            if (const auto submitted = event_time_seconds(text("submit_time"))) {
                const double now_s = std::chrono::duration<double>(now.time_since_epoch()).count();
                queue_wait_.with({device_type}).observe(std::max(0.0, now_s - *submitted));
            }
        } else if (state == "Finished") {
            const auto start = event_time_seconds(text("start_time"));
            const auto end = event_time_seconds(text("end_time"));
            if (start && end) duration_.with({device_type, health}).observe(std::max(0.0, *end - *start));
        }
    }
}

}  // namespace lava::server::events
