#pragma once
// LAVA's state and health enumerations (lava-protocols.md §9.1). The integer
// values are what the database stores; the display names are what every API,
// page and event shows; the upper-case keys are what LAVA's command lines and
// XML-RPC update calls take (GOOD, MAINTENANCE, ...).

#include "common/base/error.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace lava::proto {

enum class JobState : std::int16_t {
    kSubmitted = 0, kScheduling = 1, kScheduled = 2, kRunning = 3, kCanceling = 4, kFinished = 5,
};
enum class JobHealth : std::int16_t { kUnknown = 0, kComplete = 1, kIncomplete = 2, kCanceled = 3 };
enum class DeviceState : std::int16_t { kIdle = 0, kReserved = 1, kRunning = 2 };
enum class DeviceHealth : std::int16_t {
    kGood = 0, kUnknown = 1, kLooping = 2, kBad = 3, kMaintenance = 4, kRetired = 5,
};
enum class WorkerState : std::int16_t { kOnline = 0, kOffline = 1 };
enum class WorkerHealth : std::int16_t { kActive = 0, kMaintenance = 1, kRetired = 2 };
enum class HealthDenominator : std::int16_t { kHours = 0, kJobs = 1 };
enum class TestResult : std::int16_t { kPass = 0, kFail = 1, kSkip = 2, kUnknown = 3 };

// Display names, indexed by the stored value.
inline constexpr std::array<std::string_view, 6> kJobStateNames{
    "Submitted", "Scheduling", "Scheduled", "Running", "Canceling", "Finished"};
inline constexpr std::array<std::string_view, 4> kJobHealthNames{
    "Unknown", "Complete", "Incomplete", "Canceled"};
inline constexpr std::array<std::string_view, 3> kDeviceStateNames{"Idle", "Reserved", "Running"};
inline constexpr std::array<std::string_view, 6> kDeviceHealthNames{
    "Good", "Unknown", "Looping", "Bad", "Maintenance", "Retired"};
inline constexpr std::array<std::string_view, 2> kWorkerStateNames{"Online", "Offline"};
inline constexpr std::array<std::string_view, 3> kWorkerHealthNames{
    "Active", "Maintenance", "Retired"};
inline constexpr std::array<std::string_view, 2> kHealthDenominatorNames{"hours", "jobs"};
inline constexpr std::array<std::string_view, 4> kTestResultNames{"pass", "fail", "skip", "unknown"};

// Maps an enum to its table of names; specialised for each enum above.
template <class Enum>
struct EnumNames;
template <> struct EnumNames<JobState> { static constexpr auto& names = kJobStateNames; static constexpr std::string_view what = "job state"; };
template <> struct EnumNames<JobHealth> { static constexpr auto& names = kJobHealthNames; static constexpr std::string_view what = "job health"; };
template <> struct EnumNames<DeviceState> { static constexpr auto& names = kDeviceStateNames; static constexpr std::string_view what = "device state"; };
template <> struct EnumNames<DeviceHealth> { static constexpr auto& names = kDeviceHealthNames; static constexpr std::string_view what = "device health"; };
template <> struct EnumNames<WorkerState> { static constexpr auto& names = kWorkerStateNames; static constexpr std::string_view what = "worker state"; };
template <> struct EnumNames<WorkerHealth> { static constexpr auto& names = kWorkerHealthNames; static constexpr std::string_view what = "worker health"; };
template <> struct EnumNames<HealthDenominator> { static constexpr auto& names = kHealthDenominatorNames; static constexpr std::string_view what = "health denominator"; };
template <> struct EnumNames<TestResult> { static constexpr auto& names = kTestResultNames; static constexpr std::string_view what = "test result"; };

// The display name of a value ("Maintenance").
template <class Enum>
std::string_view display(Enum e) {
    return EnumNames<Enum>::names.at(static_cast<std::size_t>(e));
}

// The upper-case key of a value ("MAINTENANCE").
template <class Enum>
std::string key(Enum e) {
    std::string s(display(e));
    for (char& c : s) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    return s;
}

// The value stored in the database for a display name, or nullopt.
template <class Enum>
std::optional<Enum> from_int(int v) {
    if (v < 0 || static_cast<std::size_t>(v) >= EnumNames<Enum>::names.size()) return std::nullopt;
    return static_cast<Enum>(v);
}

namespace detail {
std::optional<int> find_name(std::span<const std::string_view> names, std::string_view text);
std::string choices(std::span<const std::string_view> names, bool upper);
}  // namespace detail

// Parses a display name or an upper-case key, case-insensitively
// ("Good", "GOOD", "good"). The error names the accepted keys.
template <class Enum>
Result<Enum> parse(std::string_view text) {
    const auto& names = EnumNames<Enum>::names;
    if (auto i = detail::find_name(names, text)) return static_cast<Enum>(*i);
    return make_error(errc::kInvalidArgument,
                      "invalid " + std::string(EnumNames<Enum>::what) + " '" + std::string(text) +
                          "': expected one of " + detail::choices(names, true));
}

}  // namespace lava::proto
