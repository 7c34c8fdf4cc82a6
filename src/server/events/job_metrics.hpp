#pragma once
// Job metrics read from the testjob events a server daemon publishes once
// their transaction committed, so they count what happened, not what was
// tried. Each daemon counts its own share: lava-server submissions, starts
// and ends; lava-scheduler placements. Prometheus adds them up.
//   lava_jobs_submitted_total{device_type}
//   lava_job_transitions_total{state,health}
//   lava_job_queue_wait_seconds{device_type}    submit to Scheduled
//   lava_job_duration_seconds{device_type,health}  start to end
// Thread-safe.

#include "common/metrics/metrics.hpp"
#include "server/events/events.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace lava::server::events {

class JobMetrics {
public:
    explicit JobMetrics(common::metrics::Registry& registry);
    void observe(const std::vector<PendingEvent>& events,
                 std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

private:
    common::metrics::Family<common::metrics::Counter>& submitted_;
    common::metrics::Family<common::metrics::Counter>& transitions_;
    common::metrics::Family<common::metrics::Histogram>& queue_wait_;
    common::metrics::Family<common::metrics::Histogram>& duration_;
};

// An event's time ("2026-11-30T09:21:16.238000+00:00", UTC) as seconds
// since the epoch; nullopt when it is not one.
std::optional<double> event_time_seconds(const std::string& text);

}  // namespace lava::server::events
