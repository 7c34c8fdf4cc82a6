#pragma once
// Time source abstraction. Code that makes decisions on time (timeouts,
// liveness, health-check frequency) takes a Clock& so tests can drive time
// with ManualClock instead of sleeping. Both are safe to share between threads.

#include <atomic>
#include <chrono>
#include <string>

namespace lava {

using SystemTime = std::chrono::system_clock::time_point;

class Clock {
public:
    virtual ~Clock() = default;
    // Wall-clock time, for timestamps that are stored or shown.
    virtual SystemTime now() const = 0;
    // Monotonic time, for measuring durations and deadlines.
    virtual std::chrono::steady_clock::time_point steady_now() const = 0;
};

// The real clocks.
class SystemClock final : public Clock {
public:
    SystemTime now() const override { return std::chrono::system_clock::now(); }
    std::chrono::steady_clock::time_point steady_now() const override {
        return std::chrono::steady_clock::now();
    }
    // A process-wide instance for mains; libraries take a Clock& instead.
    static SystemClock& instance();
};

// A clock that only moves when told to; for tests.
class ManualClock final : public Clock {
public:
    explicit ManualClock(SystemTime start) : now_(start.time_since_epoch().count()) {}
    SystemTime now() const override { return SystemTime(SystemTime::duration(now_.load())); }
    std::chrono::steady_clock::time_point steady_now() const override {
        return std::chrono::steady_clock::time_point(
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                SystemTime::duration(now_.load())));
    }
    void advance(std::chrono::nanoseconds d) {
        now_ += std::chrono::duration_cast<SystemTime::duration>(d).count();
    }

private:
    std::atomic<SystemTime::rep> now_;
};

// ISO 8601 in UTC with microseconds and no zone suffix, as LAVA 2023.01
// writes naive UTC datetimes: 2023-01-10T10:00:00.123456
std::string format_iso8601(SystemTime t);

// Python's datetime.isoformat() of a naive UTC time, as LAVA 2023.01 writes
// event and log timestamps: like format_iso8601 but without ".000000".
std::string python_isoformat(SystemTime t);

}  // namespace lava
